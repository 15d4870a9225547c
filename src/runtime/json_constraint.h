#pragma once
// Constrained decoding: one compiler turns a JSON Schema into a byte-level automaton (a pushdown
// machine over the compiled schema, run as a set of stacks so anyOf alternatives are followed in
// parallel) and token masks. It serves response_format (json_object, json_schema) and forced tool
// calls alike. Every prefix the automaton accepts can still be completed to a valid value, so
// sampling only allowed tokens always ends in a document that parses and validates.
//
// Two output syntaxes:
//   Json   compact JSON (no whitespace unless max_whitespace > 0); object properties in declared
//          order (optional ones may be skipped; additional properties come after all required ones).
//   Gemma  Gemma 4's tool-call argument syntax, as the official chat template renders it and the
//          output parser reads it: {key:value,...}, bare keys (keys that a bare key cannot spell are
//          written <|"|>key<|"|>), strings between <|"|> delimiters with no escapes, properties in
//          the template's `dictsort` order (case-insensitive). The delimiter is one token; in the
//          automaton's byte alphabet it is the byte 0xFF (kGemmaQuote), which valid UTF-8 never uses.
//
// Schema support (draft 2020-12 / draft 7 / OpenAPI 3.0 spellings, what Pydantic and zod emit):
//   type (a name or a list), nullable, enum, const, anyOf, oneOf (generated as anyOf: the
//   alternatives should be disjoint, as tagged unions are), allOf (merged: types intersected,
//   properties/required/bounds combined), $ref to "#" or "#/<json pointer>" into $defs/definitions
//   (recursive schemas allowed; nesting is bounded by max_depth), properties, required,
//   additionalProperties (true, false or a schema), minimum/maximum/exclusiveMinimum/
//   exclusiveMaximum (also draft 4's boolean form), minLength/maxLength (code points), pattern (the
//   regex subset in json_regex.h), format (date, time, date-time, uuid, email, ipv4), items,
//   prefixItems, items-as-array + additionalItems (draft 7 tuples), minItems/maxItems.
//   Annotations are ignored: title, description, default, examples, example, $schema, $id,
//   $comment, $anchor, deprecated, readOnly, writeOnly, contentMediaType, contentEncoding,
//   discriminator, $defs, definitions, x-* extensions.
//   Anything else (not, if/then/else, patternProperties, multipleOf, uniqueItems, unknown
//   keywords, other formats, non-local $ref, ...) is a SchemaError naming the keyword and its JSON
//   pointer: never a silently unconstrained answer.
//
// What the automaton writes (a subset of the valid documents):
//   integers: at most 15 digits (so below 2^53: exact for validators that use doubles), no fraction
//     or exponent; bounds exact.
//   numbers without bounds: at most 16 integer digits, 16 fraction digits, 2 exponent digits.
//   numbers with bounds: plain decimals (no exponent) of at most 15 digits in all, so a bound holds
//     exactly for the decimal value and for the nearest double alike.
//   strings: valid UTF-8. In Json syntax: \uXXXX escapes only in strings without pattern/format (and
//     never for surrogates); object keys are written without backslash escapes. No string may spell
//     one of the model's control markers (<|channel>, <|tool_call>, <channel|>, <turn|>,
//     <|tool_response>, <tool_call|>, <|"|> in Json; <|"|> inside Gemma strings), because the output
//     parser would cut the answer there.
//   booleans and null as true/false/null.
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "core/json.h"

namespace g4 {

class Tokenizer;

enum class JsonSyntax : uint8_t { Json, Gemma };

// The byte standing for Gemma's <|"|> string delimiter inside the automaton.
constexpr uint8_t kGemmaQuote = 0xFF;

struct JsonConstraintOptions {
  JsonSyntax syntax = JsonSyntax::Json;
  int max_whitespace = 0;  // Json only: longest whitespace run at one place (0 = compact); <= 255
  int max_depth = 32;      // deepest object/array nesting (recursive schemas stop there); 1..1000
};

// A schema the compiler cannot honour. `pointer` is the JSON pointer of the offending keyword
// ("" for the whole schema) and `keyword` its name ("" when not about one keyword); `tool` is the
// index of the tool whose parameters it is in (tool_call), else -1.
class SchemaError : public Error {
 public:
  SchemaError(std::string pointer, std::string keyword, const std::string& message)
      : Error(message), pointer(std::move(pointer)), keyword(std::move(keyword)) {}
  std::string pointer, keyword;
  int tool = -1;
};

struct ToolSchema {
  std::string name;
  Json parameters;  // a JSON Schema for the arguments object
};

class JsonConstraint {
 public:
  // json_object: any JSON object.
  static std::unique_ptr<JsonConstraint> any_object(const JsonConstraintOptions& options = {});
  // json_schema. Throws SchemaError.
  static std::unique_ptr<JsonConstraint> from_schema(const Json& schema, const JsonConstraintOptions& options = {});
  static std::unique_ptr<JsonConstraint> from_schema_text(std::string_view schema_json,
                                                          const JsonConstraintOptions& options = {});
  // The body of a forced tool call, "call:NAME{arguments}" for one of `tools`, the arguments in
  // options.syntax (Gemma for the model's native calls). Throws SchemaError (with .tool set).
  static std::unique_ptr<JsonConstraint> tool_call(const std::vector<ToolSchema>& tools,
                                                   const JsonConstraintOptions& options = {});

  ~JsonConstraint();
  JsonConstraint(const JsonConstraint&) = delete;
  JsonConstraint& operator=(const JsonConstraint&) = delete;

  // Advances over `bytes`; returns false (and leaves the state unchanged) if they are illegal.
  bool accept_bytes(std::string_view bytes);
  // Whether accept_bytes(bytes) would succeed.
  bool can_accept(std::string_view bytes) const;
  // The text so far is a complete document (end of generation allowed).
  bool is_complete() const;
  // Nothing but end of generation is possible any more.
  bool must_end() const;
  JsonSyntax syntax() const;
  std::unique_ptr<JsonConstraint> clone() const;

  struct Impl;

 private:
  explicit JsonConstraint(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  friend void compute_allowed_mask(const JsonConstraint&, const class ConstraintVocab&, const std::vector<int32_t>&,
                                   std::vector<uint8_t>&);
};

// Gemma text -> automaton bytes: every <|"|> becomes kGemmaQuote (for tests and tools).
std::string gemma_to_constraint_bytes(std::string_view text);

// The byte table for masks from a tokenizer: each ordinary token's bytes; "" for control and
// marker tokens (never chosen by an automaton) and for tokens with a byte that valid UTF-8 never
// uses; the <|"|> token (when the vocabulary has it) as kGemmaQuote.
std::vector<std::string> constraint_token_bytes(const Tokenizer& tokenizer);

// The token bytes of a vocabulary arranged for fast masking (byte tries). Build it once per
// vocabulary and share it; a mask then costs about the number of viable continuations: the trie
// is walked only along prefixes the automaton accepts, and inside unconstrained string content the
// tokens that cannot end or disturb the string are allowed in one pass over a precomputed list.
class ConstraintVocab {
 public:
  explicit ConstraintVocab(const std::vector<std::string>& token_bytes_by_id);
  ~ConstraintVocab();
  size_t size() const { return n_tokens_; }

  struct Trie;
  struct SafeSet {
    std::vector<uint8_t> mask;    // 1 for the tokens of plain content of one kind (vocab-sized)
    int64_t max_chars = 0;        // the most code points in one of them
    std::unique_ptr<Trie> rest;   // every other token
  };

 private:
  size_t n_tokens_ = 0;
  std::unique_ptr<Trie> full_;
  SafeSet json_, gemma_, gemma_key_;  // Json text, Gemma text, Gemma bare keys
  friend void compute_allowed_mask(const JsonConstraint&, const ConstraintVocab&, const std::vector<int32_t>&,
                                   std::vector<uint8_t>&);
};

// mask[id] = 1 exactly for the tokens whose bytes keep the document valid; the `end_ids` are
// allowed only (and always) when the document is complete. mask is resized to the vocab size.
void compute_allowed_mask(const JsonConstraint& constraint, const ConstraintVocab& vocab,
                          const std::vector<int32_t>& end_ids, std::vector<uint8_t>& mask);

}  // namespace g4
