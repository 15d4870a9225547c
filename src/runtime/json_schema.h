#pragma once
// Internal to the JSON constraint: the compiled form of a JSON Schema (a graph of nodes the
// byte automaton in json_machine.h walks) and the compiler that builds it. See json_constraint.h
// for what is supported.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/json.h"
#include "runtime/json_constraint.h"
#include "runtime/json_regex.h"

namespace g4::jsonc {

using Int128 = __int128;

enum TypeBits : uint32_t {
  T_OBJ = 1,
  T_ARR = 2,
  T_STR = 4,
  T_NUM = 8,   // any number (integers included)
  T_INT = 16,  // integers
  T_BOOL = 32,
  T_NULL = 64,
  T_ALL = 127,
};

// Number bounds are kept exactly, as integers in units of 1e-15 (inclusive, on that grid).
constexpr int kScaleDigits = 15;
constexpr int kMaxIntDigits = 15;       // integers: below 2^53, so exact as doubles too (JS validators)
constexpr int kMaxNumIntDigits = 16;    // integer parts of unbounded numbers
constexpr int kMaxFracDigits = 16;      // unbounded numbers
constexpr int kMaxExpDigits = 2;        // unbounded numbers
constexpr int kMaxBoundedDigits = 15;   // numbers with bounds: all digits together
constexpr int kInfDepth = 1 << 20;

struct Node {
  uint32_t types = 0;
  std::vector<int> any_of;  // alternatives; after finalize none of them is an anyOf itself
  // enum / const: the values, and their texts in the output syntax (sorted, unique)
  bool has_enum = false;
  std::vector<Json> enum_values;
  std::vector<std::string> literals;
  // object: properties in output order
  std::vector<std::string> prop_names;
  std::vector<int> prop_nodes;
  std::vector<uint8_t> prop_required;
  std::vector<int> next_required;  // [last + 1] -> first required index > last, or the count
  std::vector<std::string> key_texts;  // every property's key as written (sorted bytes)
  std::vector<int> key_prop;           // key_texts[i] -> property index
  int additional = -1;                 // node for other keys; -1: none allowed
  int free_key_dfa = -1;               // the syntax of other keys (raw bytes of the key)
  // array
  std::vector<int> prefix;
  int items = -1;  // node for items after the prefix; -1: none
  int64_t min_items = 0, max_items = -1;
  // string: content automaton (decoded content in Json syntax) and lengths in code points
  int str_dfa = -1;
  bool str_plain = true;  // no pattern/format: \u escapes allowed, lengths counted by the machine
  int64_t min_len = 0, max_len = -1;
  // number
  bool bounded = false;
  Int128 lo = 0, hi = 0;
  // the least object/array nesting a value needs (kInfDepth: no finite value), per kind
  int min_depth = kInfDepth, obj_depth = kInfDepth, arr_depth = kInfDepth;
  int literal_depth = 0;  // enum: the deepest literal's nesting
  bool finalized = false;
  std::string path;  // JSON pointer of the schema, for messages
  std::string why;   // why some kind of value was ruled out (when the node accepts nothing)
};

struct Schema {
  JsonSyntax syntax = JsonSyntax::Json;
  std::vector<Node> nodes;  // node 0 accepts any value
  std::vector<ByteDfa> dfas;
  std::vector<int32_t> neutral;  // per dfa: the state inside plain content where every safe token
                                 // loops (string content, or a Json key after its quote); -1: none
  int plain_dfa = -1;        // string content with no constraint
  int32_t plain_neutral = 0; // its state with nothing pending (safe tokens loop there)
  int free_key_json = -1;    // Json keys without escapes (objects with declared properties)
  int free_key_any = -1;     // Json keys with escapes / Gemma bare keys
  int root = 0;
  int max_ws = 0;
  int max_depth = 32;
  // tool_call: the root is a choice of "call:NAME" texts (sorted), then that tool's arguments
  bool tool_root = false;
  std::vector<std::string> tool_texts;
  std::vector<int> tool_args;
};

// Compiles `schema`; throws SchemaError.
std::shared_ptr<Schema> compile_schema(const Json& schema, const JsonConstraintOptions& options);
std::shared_ptr<Schema> compile_any_object(const JsonConstraintOptions& options);
std::shared_ptr<Schema> compile_tool_calls(const std::vector<ToolSchema>& tools, const JsonConstraintOptions& options);

// Whether `value` is valid for `node` of the compiled schema (the reference the automaton is held
// to; enum filtering uses it with ignore_enum on the node itself).
bool validate_value(const Schema& schema, int node, const Json& value, bool ignore_enum = false);

// ---- exact numbers (json_value.cpp) ----

Int128 pow10_128(int n);  // 0 <= n <= 38
// A JSON number as units of 1e-15, rounded toward +inf (ceil) or -inf, clamped to +-1e33.
Int128 scaled_number(const Json& number, bool ceil);
// Whether a JSON number is exactly on the 1e-15 grid (then both roundings agree).
bool number_on_grid(const Json& number);

// A number being written under bounds: sign, digits so far.
struct NumProgress {
  enum Phase : uint8_t { Start, Int, Zero, Dot, Frac };  // Start: nothing or "-" so far; Zero: "0"
  Phase phase = Start;
  bool neg = false;
  bool int_only = false;
  int k = 0, m = 0;     // integer and fraction digits so far
  int64_t digits = 0;   // all digits so far as one integer
};
// Some completion of `p` (within the digit budget) lies within the node's bounds.
bool number_viable(const Node& n, const NumProgress& p);
// `p` as it stands is a complete number within the bounds.
bool number_in_bounds(const Node& n, const NumProgress& p);

// ---- values (json_value.cpp) ----

// JSON equality as JSON Schema means it: object members in any order, 1 == 1.0.
bool json_equal(const Json& a, const Json& b);
// Nesting depth of containers (scalars 0, [] 1, [[1]] 2).
int json_depth(const Json& v);
// The text of `v` in the output syntax: compact JSON (members in their order), or Gemma's
// argument syntax (strings between kGemmaQuote bytes, keys bare and dictsorted).
// Throws g4::Error when the value cannot be written (a Gemma string holding <|"|>).
std::string render_literal(const Json& v, JsonSyntax syntax);
// The key text of property `name`: "\"name\"" (JSON-escaped) or a Gemma key (bare when the output
// parser reads it back unchanged, else between kGemmaQuote bytes).
std::string render_key(const std::string& name, JsonSyntax syntax);
// Keys in the Gemma template's dictsort order (case-insensitive, stable).
std::vector<size_t> dictsort_order(const std::vector<std::string>& keys);
// The control markers that must not appear in string content of `syntax` (see json_constraint.h).
const std::vector<std::string>& forbidden_markers(JsonSyntax syntax);

}  // namespace g4::jsonc
