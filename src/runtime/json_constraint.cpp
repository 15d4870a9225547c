#include "runtime/json_constraint.h"

#include <algorithm>
#include <map>
#include <set>
#include <utility>

#include "core/error.h"
#include "runtime/detokenizer.h"

namespace g4 {

namespace {

using OJson = nlohmann::ordered_json;

// ---------------------------------------------------------------------------------------------
// Compiled schema

enum TypeBits : uint32_t {
  T_OBJ = 1,
  T_ARR = 2,
  T_STR = 4,
  T_NUM = 8,
  T_INT = 16,
  T_BOOL = 32,
  T_NULL = 64,
  T_ALL = 127,
};

constexpr int kMaxProps = 64;
constexpr int kMaxStacks = 64;
constexpr int kMaxIntDigits = 16, kMaxFracDigits = 16, kMaxExpDigits = 2;  // stays finite as a double

struct Node {
  uint32_t types = 0;
  std::vector<int> any_of;  // alternatives (after finalize: flattened, none is an anyOf)
  bool has_enum = false;
  std::vector<std::string> literals;  // sorted, unique, canonical compact JSON
  // object
  std::vector<std::string> prop_names;  // JSON-escaped text between the quotes
  std::vector<int> prop_nodes;
  std::vector<uint8_t> prop_required;
  std::vector<int> next_required;  // [last + 1] -> first required index > last, or n
  int additional = 0;              // node of additional properties; -1 = none
  // array
  int items = 0;
  int64_t min_items = 0, max_items = -1;
  // string
  int64_t min_len = 0, max_len = -1;
};

struct Schema {
  std::vector<Node> nodes;  // node 0 is "any value"
  int root = 0;
  int max_ws = 24;
  int max_depth = 32;
};

const std::vector<std::string>& bool_literals() {
  static const std::vector<std::string> v = {"false", "true"};
  return v;
}
const std::vector<std::string>& null_literals() {
  static const std::vector<std::string> v = {"null"};
  return v;
}

class Compiler {
 public:
  Compiler(const OJson& root, Schema& out) : root_(root), out_(out) {}

  int compile(const OJson& s, const std::string& path) {
    if (s.is_boolean()) {
      if (s.get<bool>()) return 0;
      fail(path, "the schema 'false' accepts nothing");
    }
    if (!s.is_object()) fail(path, "a schema must be an object or a boolean");
    if (s.contains("$ref")) return compile_ref(s, path);
    int idx = int(out_.nodes.size());
    out_.nodes.emplace_back();
    Node n = build(s, path);
    out_.nodes[idx] = std::move(n);
    return idx;
  }

  void finalize() {
    for (size_t i = 0; i < out_.nodes.size(); ++i) {
      if (out_.nodes[i].any_of.empty()) continue;
      std::vector<int> flat;
      std::vector<int> visiting;
      flatten(int(i), flat, visiting);
      if (flat.empty()) throw Error("json_schema: anyOf has no alternatives");
      std::vector<int> uniq;
      for (int a : flat)
        if (std::find(uniq.begin(), uniq.end(), a) == uniq.end()) uniq.push_back(a);
      out_.nodes[i].any_of = uniq;
    }
  }

 private:
  [[noreturn]] static void fail(const std::string& path, const std::string& what) {
    throw Error("json_schema at " + (path.empty() ? std::string("#") : path) + ": " + what);
  }

  void flatten(int i, std::vector<int>& flat, std::vector<int>& visiting) {
    if (std::find(visiting.begin(), visiting.end(), i) != visiting.end())
      throw Error("json_schema: anyOf/$ref refers to itself without an object or array in between");
    const Node& n = out_.nodes[i];
    if (n.any_of.empty()) {
      flat.push_back(i);
      return;
    }
    visiting.push_back(i);
    std::vector<int> alts = n.any_of;  // copy: nodes may not move here, but be safe
    for (int a : alts) flatten(a, flat, visiting);
    visiting.pop_back();
  }

  int compile_ref(const OJson& s, const std::string& path) {
    const OJson& r = s["$ref"];
    if (!r.is_string()) fail(path, "$ref must be a string");
    std::string ref = r.get<std::string>();
    auto it = refs_.find(ref);
    if (it != refs_.end()) return it->second;
    if (ref.empty() || ref[0] != '#') fail(path, "only local $ref (\"#/...\") is supported, got \"" + ref + "\"");
    const OJson* target = nullptr;
    try {
      target = &root_.at(OJson::json_pointer(ref.substr(1)));
    } catch (const OJson::exception&) {
      fail(path, "$ref \"" + ref + "\" does not resolve");
    }
    int idx = int(out_.nodes.size());
    out_.nodes.emplace_back();
    refs_[ref] = idx;
    if (target->is_object() && target->contains("$ref")) {
      // alias of another reference: make this node an anyOf with one alternative
      Node n;
      n.any_of.push_back(compile(*target, ref));
      out_.nodes[idx] = std::move(n);
      return idx;
    }
    if (target->is_boolean()) {
      Node n;
      n.any_of.push_back(compile(*target, ref));
      out_.nodes[idx] = std::move(n);
      return idx;
    }
    if (!target->is_object()) fail(ref, "a schema must be an object or a boolean");
    Node n = build(*target, ref);
    out_.nodes[idx] = std::move(n);
    return idx;
  }

  static int64_t get_count(const OJson& s, const char* key, const std::string& path) {
    const OJson& v = s[key];
    if (!v.is_number_integer() && !(v.is_number_float() && v.get<double>() == double(int64_t(v.get<double>()))))
      fail(path, std::string(key) + " must be a non-negative integer");
    int64_t x = v.is_number_integer() ? v.get<int64_t>() : int64_t(v.get<double>());
    if (x < 0) fail(path, std::string(key) + " must be a non-negative integer");
    return x;
  }

  Node build(const OJson& s, const std::string& path) {
    static const std::set<std::string> unsupported = {
        "pattern", "patternProperties", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum",
        "multipleOf", "not", "if", "then", "else", "prefixItems", "contains", "minContains",
        "maxContains", "uniqueItems", "dependentRequired", "dependentSchemas", "dependencies",
        "propertyNames", "minProperties", "maxProperties", "unevaluatedProperties",
        "unevaluatedItems", "$dynamicRef", "$recursiveRef", "additionalItems"};
    for (auto it = s.begin(); it != s.end(); ++it)
      if (unsupported.count(it.key())) fail(path, "the keyword \"" + it.key() + "\" is not supported");

    Node n;
    const bool has_any = s.contains("anyOf"), has_one = s.contains("oneOf"), has_all = s.contains("allOf");
    const bool has_shape = s.contains("type") || s.contains("properties") || s.contains("items") ||
                           s.contains("enum") || s.contains("const") || s.contains("required") ||
                           s.contains("additionalProperties");
    if (has_all) {
      const OJson& a = s["allOf"];
      if (!a.is_array() || a.size() != 1 || has_any || has_one || has_shape)
        fail(path, "allOf is supported only with exactly one member and nothing else beside it");
      n.any_of.push_back(compile(a[0], path + "/allOf/0"));
      return n;
    }
    if (has_any || has_one) {
      if ((has_any && has_one) || has_shape)
        fail(path, "anyOf/oneOf combined with other validation keywords is not supported");
      const char* key = has_any ? "anyOf" : "oneOf";
      const OJson& a = s[key];
      if (!a.is_array() || a.empty()) fail(path, std::string(key) + " must be a non-empty array");
      for (size_t i = 0; i < a.size(); ++i)
        n.any_of.push_back(compile(a[i], path + "/" + key + "/" + std::to_string(i)));
      if (s.value("nullable", false)) {
        int null_node = int(out_.nodes.size());
        out_.nodes.emplace_back();
        out_.nodes[null_node].types = T_NULL;
        n.any_of.push_back(null_node);
      }
      return n;
    }

    if (s.contains("enum") || s.contains("const")) {
      n.has_enum = true;
      if (s.contains("const")) n.literals.push_back(Json::parse(s["const"].dump()).dump());
      if (s.contains("enum")) {
        const OJson& e = s["enum"];
        if (!e.is_array() || e.empty()) fail(path, "enum must be a non-empty array");
        for (const OJson& v : e) n.literals.push_back(Json::parse(v.dump()).dump());
      }
      if (s.contains("const") && s.contains("enum")) {
        // const must also be in the enum: keep only the const when it is
        std::string c = n.literals[0];
        if (std::find(n.literals.begin() + 1, n.literals.end(), c) == n.literals.end())
          fail(path, "const is not one of the enum values");
        n.literals = {c};
      }
      if (s.value("nullable", false)) n.literals.push_back("null");
      std::sort(n.literals.begin(), n.literals.end());
      n.literals.erase(std::unique(n.literals.begin(), n.literals.end()), n.literals.end());
      return n;
    }

    if (s.contains("type")) {
      const OJson& t = s["type"];
      std::vector<std::string> names;
      if (t.is_string()) names.push_back(t.get<std::string>());
      else if (t.is_array() && !t.empty()) {
        for (const OJson& x : t) {
          if (!x.is_string()) fail(path, "type must be a string or an array of strings");
          names.push_back(x.get<std::string>());
        }
      } else {
        fail(path, "type must be a string or an array of strings");
      }
      for (const std::string& name : names) {
        if (name == "object") n.types |= T_OBJ;
        else if (name == "array") n.types |= T_ARR;
        else if (name == "string") n.types |= T_STR;
        else if (name == "number") n.types |= T_NUM;
        else if (name == "integer") n.types |= T_INT;
        else if (name == "boolean") n.types |= T_BOOL;
        else if (name == "null") n.types |= T_NULL;
        else fail(path, "unknown type \"" + name + "\"");
      }
    } else if (s.contains("properties") || s.contains("required") || s.contains("additionalProperties")) {
      n.types = T_OBJ;
    } else if (s.contains("items")) {
      n.types = T_ARR;
    } else {
      n.types = T_ALL;
    }
    if (s.value("nullable", false)) n.types |= T_NULL;

    // object
    if (s.contains("properties")) {
      const OJson& props = s["properties"];
      if (!props.is_object()) fail(path, "properties must be an object");
      for (auto it = props.begin(); it != props.end(); ++it) {
        std::string q = Json(it.key()).dump();
        n.prop_names.push_back(q.substr(1, q.size() - 2));
        n.prop_nodes.push_back(compile(it.value(), path + "/properties/" + it.key()));
        n.prop_required.push_back(0);
      }
    }
    if (s.contains("additionalProperties")) {
      const OJson& ap = s["additionalProperties"];
      if (ap.is_boolean()) n.additional = ap.get<bool>() ? 0 : -1;
      else n.additional = compile(ap, path + "/additionalProperties");
    }
    if (s.contains("required")) {
      const OJson& req = s["required"];
      if (!req.is_array()) fail(path, "required must be an array of strings");
      for (const OJson& r : req) {
        if (!r.is_string()) fail(path, "required must be an array of strings");
        std::string q = Json(r.get<std::string>()).dump();
        std::string name = q.substr(1, q.size() - 2);
        auto it = std::find(n.prop_names.begin(), n.prop_names.end(), name);
        if (it == n.prop_names.end()) {
          if (n.additional < 0)
            fail(path, "required property \"" + r.get<std::string>() +
                           "\" is not in properties and additionalProperties is false");
          n.prop_names.push_back(name);
          n.prop_nodes.push_back(n.additional);
          n.prop_required.push_back(1);
        } else {
          n.prop_required[it - n.prop_names.begin()] = 1;
        }
      }
    }
    if (n.prop_names.size() > size_t(kMaxProps))
      fail(path, "more than " + std::to_string(kMaxProps) + " properties in one object are not supported");
    const int np = int(n.prop_names.size());
    n.next_required.assign(np + 1, np);
    for (int last = -1; last < np; ++last) {
      int r = np;
      for (int j = last + 1; j < np; ++j)
        if (n.prop_required[j]) {
          r = j;
          break;
        }
      n.next_required[last + 1] = r;
    }

    // array
    if (s.contains("items")) {
      const OJson& it = s["items"];
      if (it.is_array()) fail(path, "items as an array (tuple validation) is not supported");
      n.items = compile(it, path + "/items");
    }
    if (s.contains("minItems")) n.min_items = get_count(s, "minItems", path);
    if (s.contains("maxItems")) n.max_items = get_count(s, "maxItems", path);
    if (n.max_items >= 0 && n.min_items > n.max_items) fail(path, "minItems is greater than maxItems");
    // string
    if (s.contains("minLength")) n.min_len = get_count(s, "minLength", path);
    if (s.contains("maxLength")) n.max_len = get_count(s, "maxLength", path);
    if (n.max_len >= 0 && n.min_len > n.max_len) fail(path, "minLength is greater than maxLength");
    return n;
  }

  const OJson& root_;
  Schema& out_;
  std::map<std::string, int> refs_;
};

// ---------------------------------------------------------------------------------------------
// Automaton state

enum class FK : uint8_t { Root, Value, Object, Array, String, Number, Literal };

enum : uint8_t { OB_OPEN, OB_KEY_DONE, OB_AFTER_VALUE, OB_AFTER_COMMA };
enum : uint8_t { AR_OPEN, AR_AFTER_VALUE };
enum : uint8_t { ST_NORMAL, ST_ESC, ST_HEX };
enum : uint8_t { N_START, N_MINUS, N_ZERO, N_INT, N_DOT, N_FRAC, N_E, N_ESIGN, N_EXP };
enum : uint8_t { F_KEY = 1, F_FREE = 2, F_HEXD = 4, F_INTONLY = 8 };

struct Frame {
  FK kind = FK::Root;
  uint8_t phase = 0;
  uint8_t ws = 0;
  uint8_t flags = 0;
  uint8_t u_need = 0, u_lo = 0x80, u_hi = 0xBF;
  int32_t node = 0;
  // Object: i0 last property, i1 property of the current value (-1 additional)
  // Array: i0 item count. String: i0 char count, i1 key byte position, i2 hex digits
  // Number: i0 digits of the current part. Literal: i0 lo, i1 hi, i2 position
  int64_t i0 = 0;
  int32_t i1 = 0, i2 = 0;
  uint64_t mask = 0;  // String (key): declared names still matching the key's prefix
  bool operator==(const Frame&) const = default;
};

using Stack = std::vector<Frame>;

struct State {
  std::vector<Stack> stacks;
};

inline bool is_ws(uint8_t c) { return c == ' ' || c == '\n' || c == '\t' || c == '\r'; }
inline bool is_digit(uint8_t c) { return c >= '0' && c <= '9'; }
inline bool is_hex(uint8_t c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

inline uint64_t low_bits(int n) { return n >= 64 ? ~uint64_t(0) : ((uint64_t(1) << n) - 1); }

class Machine {
 public:
  explicit Machine(const Schema& s) : s_(s) {}

  const std::vector<std::string>& literals(int32_t list) const {
    if (list == -1) return bool_literals();
    if (list == -2) return null_literals();
    return s_.nodes[list].literals;
  }

  // Declared properties that may come next after property `last`, and whether an additional one may.
  void next_keys(const Node& n, int64_t last, uint64_t* cands, bool* additional) const {
    const int np = int(n.prop_names.size());
    int r = n.next_required[last + 1];
    int hi = r < np ? r : np - 1;  // inclusive
    uint64_t m = 0;
    if (hi > last) m = low_bits(hi + 1) & ~low_bits(int(last + 1));
    *cands = m;
    *additional = n.additional >= 0 && r == np;
  }

  bool all_required_done(const Node& n, int64_t last) const {
    return n.next_required[last + 1] == int(n.prop_names.size());
  }

  bool literal_accepting(const Frame& f) const {
    const auto& lits = literals(f.node);
    return f.i0 < f.i1 && lits[f.i0].size() == size_t(f.i2);
  }

  static bool number_accepting(const Frame& f) {
    return f.phase == N_ZERO || f.phase == N_INT || f.phase == N_FRAC || f.phase == N_EXP;
  }

  bool stack_complete(const Stack& st) const {
    const Frame& t = st.back();
    if (t.kind == FK::Root) return true;
    if (st.size() != 2) return false;
    if (t.kind == FK::Number) return number_accepting(t);
    if (t.kind == FK::Literal) return literal_accepting(t);
    return false;
  }

  Frame value_frame(int node) const {
    Frame f;
    f.kind = FK::Value;
    f.node = node;
    return f;
  }

  // Steps one stack over byte c. Alternatives of an anyOf that also accept c are appended to
  // `forks`. Returns false when this stack rejects c.
  bool step_stack(Stack& st, uint8_t c, std::vector<Stack>& forks) const {
    for (;;) {
      Frame& f = st.back();
      switch (f.kind) {
        case FK::Root:
          if (is_ws(c) && f.ws < s_.max_ws) {
            ++f.ws;
            return true;
          }
          return false;

        case FK::Value: {
          if (is_ws(c)) {
            if (f.ws >= s_.max_ws) return false;
            ++f.ws;
            return true;
          }
          const Node& n = s_.nodes[f.node];
          if (!n.any_of.empty()) {
            const uint8_t ws = f.ws;
            for (size_t k = 1; k < n.any_of.size(); ++k) {
              Stack copy = st;
              copy.back() = value_frame(n.any_of[k]);
              copy.back().ws = ws;
              if (step_stack(copy, c, forks)) forks.push_back(std::move(copy));
            }
            Frame& g = st.back();
            g = value_frame(n.any_of[0]);
            g.ws = ws;
            continue;
          }
          if (n.has_enum) {
            f.kind = FK::Literal;
            f.i0 = 0;
            f.i1 = int32_t(n.literals.size());
            f.i2 = 0;
            continue;  // f.node stays: the literal list is the node's
          }
          const int node = f.node;
          if (c == '{' && (n.types & T_OBJ)) {
            if (int(st.size()) > s_.max_depth) return false;
            f = Frame{};
            f.kind = FK::Object;
            f.phase = OB_OPEN;
            f.node = node;
            f.i0 = -1;
            return true;
          }
          if (c == '[' && (n.types & T_ARR)) {
            if (int(st.size()) > s_.max_depth) return false;
            f = Frame{};
            f.kind = FK::Array;
            f.phase = AR_OPEN;
            f.node = node;
            return true;
          }
          if (c == '"' && (n.types & T_STR)) {
            f = Frame{};
            f.kind = FK::String;
            f.node = node;
            return true;
          }
          if ((c == '-' || is_digit(c)) && (n.types & (T_NUM | T_INT))) {
            f = Frame{};
            f.kind = FK::Number;
            f.node = node;
            f.phase = N_START;
            if (!(n.types & T_NUM)) f.flags = F_INTONLY;
            continue;
          }
          if ((c == 't' || c == 'f') && (n.types & T_BOOL)) {
            f = Frame{};
            f.kind = FK::Literal;
            f.node = -1;
            f.i0 = 0;
            f.i1 = 2;
            continue;
          }
          if (c == 'n' && (n.types & T_NULL)) {
            f = Frame{};
            f.kind = FK::Literal;
            f.node = -2;
            f.i0 = 0;
            f.i1 = 1;
            continue;
          }
          return false;
        }

        case FK::Object: {
          const Node& n = s_.nodes[f.node];
          switch (f.phase) {
            case OB_OPEN:
            case OB_AFTER_COMMA: {
              if (is_ws(c)) {
                if (f.ws >= s_.max_ws) return false;
                ++f.ws;
                return true;
              }
              if (c == '"') {
                uint64_t cands;
                bool additional;
                next_keys(n, f.i0, &cands, &additional);
                if (!cands && !additional) return false;
                f.phase = OB_KEY_DONE;
                f.ws = 0;
                Frame k;
                k.kind = FK::String;
                k.node = f.node;
                k.flags = F_KEY | (additional ? F_FREE : 0);
                k.mask = low_bits(int(n.prop_names.size()));
                st.push_back(k);
                return true;
              }
              if (c == '}' && f.phase == OB_OPEN && all_required_done(n, f.i0)) {
                st.pop_back();
                return true;
              }
              return false;
            }
            case OB_KEY_DONE:
              if (is_ws(c)) {
                if (f.ws >= s_.max_ws) return false;
                ++f.ws;
                return true;
              }
              if (c == ':') {
                f.phase = OB_AFTER_VALUE;
                f.ws = 0;
                int child = f.i1 >= 0 ? n.prop_nodes[f.i1] : n.additional;
                st.push_back(value_frame(child));
                return true;
              }
              return false;
            case OB_AFTER_VALUE:
              if (is_ws(c)) {
                if (f.ws >= s_.max_ws) return false;
                ++f.ws;
                return true;
              }
              if (c == ',') {
                uint64_t cands;
                bool additional;
                next_keys(n, f.i0, &cands, &additional);
                if (!cands && !additional) return false;
                f.phase = OB_AFTER_COMMA;
                f.ws = 0;
                return true;
              }
              if (c == '}' && all_required_done(n, f.i0)) {
                st.pop_back();
                return true;
              }
              return false;
          }
          return false;
        }

        case FK::Array: {
          const Node& n = s_.nodes[f.node];
          if (is_ws(c)) {
            if (f.ws >= s_.max_ws) return false;
            ++f.ws;
            return true;
          }
          if (c == ']') {
            if (f.i0 < n.min_items) return false;
            st.pop_back();
            return true;
          }
          if (f.phase == AR_OPEN) {
            if (n.max_items == 0) return false;
            f.phase = AR_AFTER_VALUE;
            f.ws = 0;
            f.i0 = 1;
            st.push_back(value_frame(n.items));
            continue;  // the byte starts the first item
          }
          if (c == ',') {
            if (n.max_items >= 0 && f.i0 >= n.max_items) return false;
            ++f.i0;
            f.ws = 0;
            st.push_back(value_frame(n.items));
            return true;
          }
          return false;
        }

        case FK::String:
          return step_string(st, c);

        case FK::Number: {
          const bool int_only = f.flags & F_INTONLY;
          switch (f.phase) {
            case N_START:
              if (c == '-') { f.phase = N_MINUS; return true; }
              [[fallthrough]];
            case N_MINUS:
              if (c == '0') { f.phase = N_ZERO; return true; }
              if (is_digit(c)) { f.phase = N_INT; f.i0 = 1; return true; }
              return false;
            case N_ZERO:
            case N_INT:
              if (is_digit(c) && f.phase == N_INT) {
                if (f.i0 >= kMaxIntDigits) return false;
                ++f.i0;
                return true;
              }
              if (c == '.' && !int_only) { f.phase = N_DOT; return true; }
              if ((c == 'e' || c == 'E') && !int_only) { f.phase = N_E; return true; }
              if (is_digit(c)) return false;  // no leading zeros
              break;  // the number ends
            case N_DOT:
              if (is_digit(c)) { f.phase = N_FRAC; f.i0 = 1; return true; }
              return false;
            case N_FRAC:
              if (is_digit(c)) {
                if (f.i0 >= kMaxFracDigits) return false;
                ++f.i0;
                return true;
              }
              if (c == 'e' || c == 'E') { f.phase = N_E; return true; }
              break;
            case N_E:
              if (c == '+' || c == '-') { f.phase = N_ESIGN; return true; }
              [[fallthrough]];
            case N_ESIGN:
              if (is_digit(c)) { f.phase = N_EXP; f.i0 = 1; return true; }
              return false;
            case N_EXP:
              if (is_digit(c)) {
                if (f.i0 >= kMaxExpDigits) return false;
                ++f.i0;
                return true;
              }
              break;
          }
          // the number is complete; c belongs to the parent
          st.pop_back();
          continue;
        }

        case FK::Literal: {
          const auto& lits = literals(f.node);
          const size_t pos = size_t(f.i2);
          auto key = [pos](const std::string& s) { return s.size() > pos ? int(uint8_t(s[pos])) : -1; };
          auto lo = std::lower_bound(lits.begin() + f.i0, lits.begin() + f.i1, int(c),
                                     [&](const std::string& s, int v) { return key(s) < v; });
          auto hi = std::upper_bound(lo, lits.begin() + f.i1, int(c),
                                     [&](int v, const std::string& s) { return v < key(s); });
          if (lo != hi) {
            f.i0 = lo - lits.begin();
            f.i1 = int32_t(hi - lits.begin());
            f.i2 = int32_t(pos + 1);
            if (f.i1 - f.i0 == 1 && lits[f.i0].size() == pos + 1) st.pop_back();  // nothing can follow
            return true;
          }
          if (!literal_accepting(f)) return false;
          st.pop_back();
          continue;
        }
      }
      return false;
    }
  }

  bool step_string(Stack& st, uint8_t c) const {
    Frame& f = st.back();
    const bool key = f.flags & F_KEY;
    const Node& n = s_.nodes[f.node];

    if (f.phase == ST_NORMAL && f.u_need == 0 && c == '"') {
      if (!key) {
        if (f.i0 < n.min_len) return false;
        st.pop_back();
        return true;
      }
      // closing a key: an exact declared name, else an additional key
      Frame& parent = st[st.size() - 2];
      uint64_t cands;
      bool additional;
      next_keys(n, parent.i0, &cands, &additional);
      int exact = -1;
      for (uint64_t m = f.mask; m; m &= m - 1) {
        int i = __builtin_ctzll(m);
        if (n.prop_names[i].size() == size_t(f.i1)) {
          exact = i;
          break;
        }
      }
      if (exact >= 0) {
        if (!((cands >> exact) & 1)) return false;  // out of order or repeated
        parent.i0 = exact;
        parent.i1 = exact;
      } else {
        if (!(f.flags & F_FREE) || !additional) return false;
        parent.i1 = -1;
      }
      st.pop_back();
      return true;
    }

    // the string-content machine
    bool counts_char = false;
    switch (f.phase) {
      case ST_NORMAL:
        if (f.u_need > 0) {
          if (c < f.u_lo || c > f.u_hi) return false;
          --f.u_need;
          f.u_lo = 0x80;
          f.u_hi = 0xBF;
        } else if (c == '\\') {
          f.phase = ST_ESC;
          counts_char = true;
        } else if (c < 0x20) {
          return false;
        } else if (c < 0x80) {
          counts_char = true;
        } else {
          counts_char = true;
          if (c >= 0xC2 && c <= 0xDF) {
            f.u_need = 1;
          } else if (c >= 0xE0 && c <= 0xEF) {
            f.u_need = 2;
            if (c == 0xE0) f.u_lo = 0xA0;
            if (c == 0xED) f.u_hi = 0x9F;
          } else if (c >= 0xF0 && c <= 0xF4) {
            f.u_need = 3;
            if (c == 0xF0) f.u_lo = 0x90;
            if (c == 0xF4) f.u_hi = 0x8F;
          } else {
            return false;
          }
        }
        break;
      case ST_ESC:
        if (c == 'u') {
          f.phase = ST_HEX;
          f.i2 = 0;
          f.flags &= ~F_HEXD;
        } else if (c == '"' || c == '\\' || c == '/' || c == 'b' || c == 'f' || c == 'n' || c == 'r' ||
                   c == 't') {
          f.phase = ST_NORMAL;
        } else {
          return false;
        }
        break;
      case ST_HEX:
        if (!is_hex(c)) return false;
        if (f.i2 == 0 && (c == 'd' || c == 'D')) f.flags |= F_HEXD;
        if (f.i2 == 1 && (f.flags & F_HEXD) && !is_digit(c)) return false;  // D800-DFFF: surrogates
        if (f.i2 == 1 && (f.flags & F_HEXD) && (c == '8' || c == '9')) return false;
        if (++f.i2 == 4) f.phase = ST_NORMAL;
        break;
    }
    if (counts_char && !key) {
      if (n.max_len >= 0 && f.i0 >= n.max_len) return false;
      ++f.i0;
    }
    if (!key) return true;

    // key: follow the declared names that still match, and whether a free key is still possible
    const size_t pos = size_t(f.i1);
    uint64_t alive = 0;
    for (uint64_t m = f.mask; m; m &= m - 1) {
      int i = __builtin_ctzll(m);
      const std::string& name = n.prop_names[i];
      if (name.size() > pos && uint8_t(name[pos]) == c) alive |= uint64_t(1) << i;
    }
    bool free_ok = (f.flags & F_FREE) && c != '\\';
    if (!free_ok) {
      const Frame& parent = st[st.size() - 2];
      uint64_t cands;
      bool additional;
      next_keys(n, parent.i0, &cands, &additional);
      if (!(alive & cands)) return false;
      f.flags &= ~F_FREE;
    }
    f.mask = alive;
    f.i1 = int32_t(pos + 1);
    return true;
  }

  bool step(State& state, uint8_t c) const {
    std::vector<Stack> forks;
    auto& stacks = state.stacks;
    size_t w = 0;
    const size_t n = stacks.size();
    for (size_t i = 0; i < n; ++i) {
      if (step_stack(stacks[i], c, forks)) {
        if (w != i) std::swap(stacks[w], stacks[i]);
        ++w;
      }
    }
    stacks.resize(w);
    for (auto& f : forks) stacks.push_back(std::move(f));
    if (stacks.size() > 1) {
      size_t u = 0;
      for (size_t i = 0; i < stacks.size(); ++i) {
        bool dup = false;
        for (size_t j = 0; j < u && !dup; ++j) dup = stacks[j] == stacks[i];
        if (!dup) {
          if (u != i) std::swap(stacks[u], stacks[i]);
          ++u;
        }
      }
      stacks.resize(std::min<size_t>(u, kMaxStacks));
    }
    return !stacks.empty();
  }

  bool complete(const State& state) const {
    for (const Stack& st : state.stacks)
      if (stack_complete(st)) return true;
    return false;
  }

  bool must_end(const State& state) const {
    for (const Stack& st : state.stacks) {
      if (st.size() != 1 || st.back().ws < s_.max_ws) return false;
    }
    return !state.stacks.empty();
  }

  // Inside a plain string (no pending escape or UTF-8, no length limit; for keys, a free key
  // still possible): every token of plain string content is accepted.
  // `max_token_chars`: the most characters any plain-content token adds (for maxLength).
  // Every stack must be in such a string (then each one accepts every plain-content token).
  bool in_plain_string(const State& state, int64_t max_token_chars) const {
    if (state.stacks.empty()) return false;
    for (const Stack& st : state.stacks) {
      const Frame& f = st.back();
      if (f.kind != FK::String || f.phase != ST_NORMAL || f.u_need != 0) return false;
      if (f.flags & F_KEY) {
        if (!(f.flags & F_FREE)) return false;
        continue;
      }
      const int64_t max_len = s_.nodes[f.node].max_len;
      if (max_len >= 0 && max_len - f.i0 < max_token_chars) return false;
    }
    return true;
  }

 private:
  const Schema& s_;
};

}  // namespace

// ---------------------------------------------------------------------------------------------

struct JsonConstraint::Impl {
  std::shared_ptr<const Schema> schema;
  State state;
};

JsonConstraint::JsonConstraint(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
JsonConstraint::~JsonConstraint() = default;

namespace {

std::unique_ptr<JsonConstraint::Impl> make_impl(std::shared_ptr<Schema> schema, const JsonConstraintOptions& o) {
  check(o.max_whitespace >= 0 && o.max_whitespace <= 255,
        "json constraint: max_whitespace must be in [0, 255]");
  check(o.max_depth >= 1 && o.max_depth <= 1000, "json constraint: max_depth must be in [1, 1000]");
  schema->max_ws = o.max_whitespace;
  schema->max_depth = o.max_depth + 1;  // the root frame is on the stack too
  auto impl = std::make_unique<JsonConstraint::Impl>();
  Stack st;
  Frame root;
  root.kind = FK::Root;
  st.push_back(root);
  Frame v;
  v.kind = FK::Value;
  v.node = schema->root;
  st.push_back(v);
  impl->state.stacks.push_back(std::move(st));
  impl->schema = std::move(schema);
  return impl;
}

std::shared_ptr<Schema> any_schema() {
  auto s = std::make_shared<Schema>();
  Node any;
  any.types = T_ALL;
  any.additional = 0;
  any.items = 0;
  any.next_required = {0};
  s->nodes.push_back(any);
  return s;
}

}  // namespace

std::unique_ptr<JsonConstraint> JsonConstraint::any_object(const JsonConstraintOptions& options) {
  auto s = any_schema();
  Node obj = s->nodes[0];
  obj.types = T_OBJ;
  s->nodes.push_back(obj);
  s->root = 1;
  return std::unique_ptr<JsonConstraint>(new JsonConstraint(make_impl(std::move(s), options)));
}

std::unique_ptr<JsonConstraint> JsonConstraint::from_schema_text(std::string_view text,
                                                                 const JsonConstraintOptions& options) {
  OJson schema;
  try {
    schema = OJson::parse(text);
  } catch (const OJson::exception& e) {
    throw Error(std::string("json_schema: invalid JSON: ") + e.what());
  }
  auto s = any_schema();
  Compiler c(schema, *s);
  s->root = c.compile(schema, "");
  c.finalize();
  return std::unique_ptr<JsonConstraint>(new JsonConstraint(make_impl(std::move(s), options)));
}

std::unique_ptr<JsonConstraint> JsonConstraint::from_schema(const Json& schema,
                                                            const JsonConstraintOptions& options) {
  return from_schema_text(schema.dump(), options);
}

bool JsonConstraint::accept_bytes(std::string_view bytes) {
  Machine m(*impl_->schema);
  State next = impl_->state;
  for (char ch : bytes)
    if (!m.step(next, uint8_t(ch))) return false;
  impl_->state = std::move(next);
  return true;
}

bool JsonConstraint::can_accept(std::string_view bytes) const {
  Machine m(*impl_->schema);
  State next = impl_->state;
  for (char ch : bytes)
    if (!m.step(next, uint8_t(ch))) return false;
  return true;
}

bool JsonConstraint::is_complete() const { return Machine(*impl_->schema).complete(impl_->state); }

bool JsonConstraint::must_end() const { return Machine(*impl_->schema).must_end(impl_->state); }

std::unique_ptr<JsonConstraint> JsonConstraint::clone() const {
  auto impl = std::make_unique<Impl>(*impl_);
  return std::unique_ptr<JsonConstraint>(new JsonConstraint(std::move(impl)));
}

// ---------------------------------------------------------------------------------------------
// Vocabulary trie and masking

struct ConstraintVocab::Trie {
  // Nodes in preorder; node 0 is the root (empty prefix). The subtree of node i is
  // [i, i + subtree[i]); its first child is i + 1.
  std::vector<uint8_t> byte;
  std::vector<uint32_t> subtree;
  std::vector<uint32_t> tok_begin, tok_end;  // ids[tok_begin, tok_end) end at this node
  std::vector<int32_t> ids;
  size_t max_len = 0;

  void build(const std::vector<std::string>& bytes, std::vector<int32_t> order) {
    std::sort(order.begin(), order.end(), [&](int32_t a, int32_t b) {
      return bytes[a] < bytes[b] || (bytes[a] == bytes[b] && a < b);
    });
    auto new_node = [&](uint8_t b) {
      byte.push_back(b);
      subtree.push_back(0);
      tok_begin.push_back(0);
      tok_end.push_back(0);
      return uint32_t(byte.size() - 1);
    };
    std::vector<uint32_t> path = {new_node(0)};
    std::string_view prev;
    auto pop_to = [&](size_t depth) {
      while (path.size() > depth + 1) {
        subtree[path.back()] = uint32_t(byte.size()) - path.back();
        path.pop_back();
      }
    };
    for (int32_t id : order) {
      std::string_view s = bytes[id];
      max_len = std::max(max_len, s.size());
      size_t lcp = 0;
      while (lcp < s.size() && lcp < prev.size() && s[lcp] == prev[lcp]) ++lcp;
      pop_to(lcp);
      for (size_t d = lcp; d < s.size(); ++d) path.push_back(new_node(uint8_t(s[d])));
      uint32_t node = path.back();
      if (tok_end[node] == tok_begin[node]) tok_begin[node] = tok_end[node] = uint32_t(ids.size());
      ids.push_back(id);
      ++tok_end[node];
      prev = s;
    }
    pop_to(0);
    subtree[0] = uint32_t(byte.size());
  }
};

ConstraintVocab::ConstraintVocab(const std::vector<std::string>& bytes)
    : n_tokens_(bytes.size()), full_(std::make_unique<Trie>()), unsafe_(std::make_unique<Trie>()) {
  std::vector<int32_t> all, unsafe;
  all.reserve(bytes.size());
  for (size_t id = 0; id < bytes.size(); ++id) {
    const std::string& s = bytes[id];
    if (s.empty()) continue;
    all.push_back(int32_t(id));
    bool safe = true;
    for (size_t i = 0; i < s.size() && safe;) {
      uint8_t c = uint8_t(s[i]);
      if (c < 0x20 || c == '"' || c == '\\') {
        safe = false;
        break;
      }
      int n = utf8_sequence_at(s, i);
      if (n <= 0) safe = false;
      else i += size_t(n);
    }
    if (safe) {
      safe_ids_.push_back(int32_t(id));
      int64_t chars = 0;
      for (unsigned char c : s) chars += (c & 0xC0) != 0x80;
      max_safe_chars_ = std::max(max_safe_chars_, chars);
    }
    else unsafe.push_back(int32_t(id));
  }
  full_->build(bytes, std::move(all));
  unsafe_->build(bytes, std::move(unsafe));
}

ConstraintVocab::~ConstraintVocab() = default;

namespace {

struct MaskWalker {
  const Machine& m;
  const ConstraintVocab::Trie& t;
  std::vector<State>& levels;
  uint8_t* mask;

  void walk(uint32_t node, size_t depth) {
    const uint32_t end = node + t.subtree[node];
    for (uint32_t ch = node + 1; ch < end; ch += t.subtree[ch]) {
      State& next = levels[depth + 1];
      next.stacks = levels[depth].stacks;
      if (!m.step(next, t.byte[ch])) continue;
      for (uint32_t k = t.tok_begin[ch]; k < t.tok_end[ch]; ++k) mask[t.ids[k]] = 1;
      if (t.subtree[ch] > 1) walk(ch, depth + 1);
    }
  }
};

}  // namespace

void compute_allowed_mask(const JsonConstraint& constraint, const ConstraintVocab& vocab,
                          const std::vector<int32_t>& eog_ids, std::vector<uint8_t>& mask) {
  const JsonConstraint::Impl& impl = *constraint.impl_;
  Machine m(*impl.schema);
  mask.assign(vocab.size(), 0);
  const ConstraintVocab::Trie* trie = vocab.full_.get();
  if (m.in_plain_string(impl.state, vocab.max_safe_chars_)) {
    for (int32_t id : vocab.safe_ids_) mask[id] = 1;
    trie = vocab.unsafe_.get();
  }
  thread_local std::vector<State> levels;
  if (levels.size() < trie->max_len + 2) levels.resize(trie->max_len + 2);
  levels[0].stacks = impl.state.stacks;
  MaskWalker w{m, *trie, levels, mask.data()};
  w.walk(0, 0);
  const bool done = m.complete(impl.state);
  for (int32_t id : eog_ids)
    if (id >= 0 && size_t(id) < mask.size()) mask[id] = done ? 1 : 0;
}

void compute_allowed_mask(const JsonConstraint& constraint,
                          const std::vector<std::string>& token_bytes_by_id,
                          const std::vector<int32_t>& eog_ids, std::vector<uint8_t>& mask) {
  struct Cache {
    const void* ptr = nullptr;
    size_t size = 0;
    uint64_t fingerprint = 0;
    std::unique_ptr<ConstraintVocab> vocab;
  };
  thread_local Cache cache;
  uint64_t h = 1469598103934665603ull;
  auto mix = [&h](uint64_t v) {
    h ^= v;
    h *= 1099511628211ull;
  };
  for (const std::string& s : token_bytes_by_id) {
    mix(s.size());
    if (!s.empty()) mix(uint8_t(s.front()) | (uint64_t(uint8_t(s.back())) << 8));
  }
  if (!cache.vocab || cache.ptr != &token_bytes_by_id || cache.size != token_bytes_by_id.size() ||
      cache.fingerprint != h) {
    cache.vocab = std::make_unique<ConstraintVocab>(token_bytes_by_id);
    cache.ptr = &token_bytes_by_id;
    cache.size = token_bytes_by_id.size();
    cache.fingerprint = h;
  }
  compute_allowed_mask(constraint, *cache.vocab, eog_ids, mask);
}

}  // namespace g4
