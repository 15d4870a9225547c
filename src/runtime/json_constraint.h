#pragma once
// Constrained decoding for response_format json_object / json_schema: a byte-level incremental
// JSON automaton (a pushdown machine over the compiled schema, run as a set of stacks so anyOf
// alternatives are followed in parallel). Every prefix it accepts can still be completed, so
// sampling only allowed tokens always ends in a document that parses and validates.
//
// Supported schema subset: type (string or list) object/array/string/number/integer/boolean/null,
// properties, required, additionalProperties (true/false/schema; absent = true), items, minItems,
// maxItems, minLength, maxLength, enum, const, anyOf, oneOf (treated as anyOf), allOf with one
// member, nullable, $ref to "#/..." (recursion allowed), true/{} (any value). Annotations
// (title, description, default, examples, format, $schema, $id, $defs, ...) are ignored. Keywords
// that would restrict values in ways not enforced (pattern, minimum, maximum, uniqueItems, not,
// ...) are rejected with g4::Error.
//
// Output shape: object properties appear in schema order (from_schema_text keeps the order of the
// schema text; from_schema(Json) sees nlohmann::json's sorted key order); a required property
// cannot be skipped; optional ones may be; additional properties come after all required ones.
// enum/const values must be written in canonical compact JSON (nlohmann dump). Whitespace is
// allowed between tokens in runs of at most max_whitespace bytes, so output cannot spin on spaces.
// Numbers: at most 16 integer digits, 16 fraction digits, 2 exponent digits (always finite). Strings may not use
// \u escapes of UTF-16 surrogates (write the character itself). Object keys of objects that
// declare properties may not use backslash escapes unless the declared name needs them.
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/json.h"

namespace g4 {

struct JsonConstraintOptions {
  int max_whitespace = 24;  // longest whitespace run at one place (0 = compact JSON only); <= 255
  int max_depth = 32;       // deepest object/array nesting
};

class ConstraintVocab;

class JsonConstraint {
 public:
  // json_object: any JSON object.
  static std::unique_ptr<JsonConstraint> any_object(const JsonConstraintOptions& options = {});
  // json_schema. Throws g4::Error naming the unsupported keyword and its location.
  static std::unique_ptr<JsonConstraint> from_schema(const Json& schema,
                                                     const JsonConstraintOptions& options = {});
  // Same, parsed from text so properties keep their declared order.
  static std::unique_ptr<JsonConstraint> from_schema_text(std::string_view schema_json,
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
  // Nothing but end of generation is possible any more (complete, no more whitespace allowed).
  bool must_end() const;
  std::unique_ptr<JsonConstraint> clone() const;

  struct Impl;

 private:
  explicit JsonConstraint(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  friend void compute_allowed_mask(const JsonConstraint&, const ConstraintVocab&,
                                   const std::vector<int32_t>&, std::vector<uint8_t>&);
};

// The token bytes of a vocabulary arranged for fast masking (a byte trie). Build it once per
// vocabulary. Tokens with empty bytes (control tokens the caller maps to "") are never allowed.
class ConstraintVocab {
 public:
  explicit ConstraintVocab(const std::vector<std::string>& token_bytes_by_id);
  ~ConstraintVocab();
  size_t size() const { return n_tokens_; }

  struct Trie;

 private:
  size_t n_tokens_ = 0;
  std::unique_ptr<Trie> full_;    // every non-empty token
  std::unique_ptr<Trie> unsafe_;  // tokens that are not plain string content
  std::vector<int32_t> safe_ids_; // plain string content: no '"', '\\', control bytes; whole UTF-8
  int64_t max_safe_chars_ = 0;   // the most code points in one of them
  friend void compute_allowed_mask(const JsonConstraint&, const ConstraintVocab&,
                                   const std::vector<int32_t>&, std::vector<uint8_t>&);
};

// mask[id] = 1 exactly for the tokens whose bytes keep the document valid; the EOG ids are
// allowed only (and always) when the document is complete. mask is resized to the vocab size.
void compute_allowed_mask(const JsonConstraint& constraint, const ConstraintVocab& vocab,
                          const std::vector<int32_t>& eog_ids, std::vector<uint8_t>& mask);
// Convenience form: builds (and caches per thread, keyed on the vector's address, size and a
// fingerprint of its contents) the ConstraintVocab.
void compute_allowed_mask(const JsonConstraint& constraint,
                          const std::vector<std::string>& token_bytes_by_id,
                          const std::vector<int32_t>& eog_ids, std::vector<uint8_t>& mask);

}  // namespace g4
