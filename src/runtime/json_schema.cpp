// The JSON Schema compiler: schema documents -> the node graph of json_schema.h.
//
// A schema is compiled as a conjunction of members: $ref targets and allOf members are inlined
// into the list (so their keywords merge), anyOf/oneOf are distributed over the rest (each
// alternative becomes the conjunction of the rest and that alternative), and what remains is
// merged keyword by keyword. A schema that is nothing but a $ref becomes a shared node, which is
// what lets recursive schemas compile.
#include <algorithm>
#include <cmath>
#include <map>
#include <optional>
#include <set>

#include "core/error.h"
#include "runtime/json_schema.h"

namespace g4::jsonc {

namespace {

constexpr size_t kMaxNodes = 20000;
constexpr int kMaxSchemaDepth = 64;
constexpr size_t kMaxProps = 2000;
constexpr size_t kMaxDfaEntries = size_t(1) << 24;

enum Skip : uint8_t { SKIP_REF = 1, SKIP_ALLOF = 2, SKIP_ANYOF = 4, SKIP_ONEOF = 8 };

struct Ref {
  const Json* s = nullptr;
  std::string path;
  uint8_t skip = 0;
};

std::string pointer_token(const std::string& k) {
  std::string out;
  for (char c : k) {
    if (c == '~') out += "~0";
    else if (c == '/') out += "~1";
    else out += c;
  }
  return out;
}
std::string child(const std::string& path, const std::string& key) { return path + "/" + pointer_token(key); }
std::string shown(const std::string& pointer) { return "#" + pointer; }

bool is_annotation(const std::string& k) {
  static const std::set<std::string> a = {
      "title",    "description", "default",    "examples",        "example",         "$schema",
      "$id",      "$comment",    "$anchor",    "deprecated",      "readOnly",        "writeOnly",
      "contentMediaType", "contentEncoding", "discriminator", "$defs", "definitions", "externalDocs"};
  return a.count(k) > 0 || k.rfind("x-", 0) == 0;
}

bool is_supported(const std::string& k) {
  static const std::set<std::string> s = {
      "type",      "enum",          "const",     "anyOf",     "oneOf",      "allOf",     "$ref",
      "properties", "required",     "additionalProperties",   "minimum",    "maximum",   "exclusiveMinimum",
      "exclusiveMaximum", "minLength", "maxLength", "pattern", "format",     "items",     "prefixItems",
      "additionalItems",  "minItems",  "maxItems",  "nullable", "uniqueItems", "minProperties"};
  return s.count(k) > 0;
}

bool is_known_unsupported(const std::string& k) {
  static const std::set<std::string> u = {
      "not",           "if",               "then",          "else",          "patternProperties",
      "propertyNames", "dependentRequired", "dependentSchemas", "dependencies", "maxProperties",
      "multipleOf",    "contains",         "minContains",   "maxContains",   "unevaluatedProperties",
      "unevaluatedItems", "$dynamicRef",   "$dynamicAnchor", "$recursiveRef", "$recursiveAnchor",
      "$vocabulary",   "contentSchema"};
  return u.count(k) > 0;
}

[[noreturn]] void fail_kw(const std::string& path, const std::string& key, const std::string& what) {
  const std::string ptr = child(path, key);
  throw SchemaError(ptr, key, "JSON Schema keyword \"" + key + "\" at " + shown(ptr) + ": " + what);
}
[[noreturn]] void fail_at(const std::string& path, const std::string& what) {
  throw SchemaError(path, "", "JSON Schema at " + shown(path) + ": " + what);
}

const Json& object_type_schema() {
  static const Json j = Json{{"type", "object"}};
  return j;
}

// The automata every schema of a syntax uses, built once.
struct Standard {
  ByteDfa plain, key_json, key_any;
  int32_t key_neutral = -1;
};

Standard build_standard(JsonSyntax syntax) {
  Standard st;
  const ByteDfa excl = exclude_words(forbidden_markers(syntax));
  st.plain = intersect(any_utf8(), excl);
  if (syntax == JsonSyntax::Json) {
    st.key_json = intersect(compile_anchored_regex(R"("[^"\\\x00-\x1f]*")"), excl);
    st.key_any = intersect(
        compile_anchored_regex(
            R"("([^"\\\x00-\x1f]|\\["\\/bfnrt]|\\u([0-9a-cA-CefEF][0-9a-fA-F]{3}|[dD][0-7][0-9a-fA-F]{2}))*")"),
        excl);
    st.key_neutral = st.key_json.step(st.key_json.start, '"');
  } else {
    // Other keys are bare words the output parser reads back unchanged: ASCII letters, digits and
    // _$@.- or any non-ASCII character but a space.
    st.key_any = compile_anchored_regex(R"(([A-Za-z0-9_$@.\-]|[^\x00-\x7F\s])+)");
    st.key_json = st.key_any;
    st.key_neutral = st.key_any.step(st.key_any.start, 'a');
  }
  return st;
}

const Standard& standard(JsonSyntax syntax) {
  static const Standard json = build_standard(JsonSyntax::Json);
  static const Standard gemma = build_standard(JsonSyntax::Gemma);
  return syntax == JsonSyntax::Json ? json : gemma;
}

std::shared_ptr<Schema> base_schema(const JsonConstraintOptions& o) {
  check(o.max_whitespace >= 0 && o.max_whitespace <= 255, "json constraint: max_whitespace must be in [0, 255]");
  check(o.max_depth >= 1 && o.max_depth <= 1000, "json constraint: max_depth must be in [1, 1000]");
  auto s = std::make_shared<Schema>();
  s->syntax = o.syntax;
  s->max_ws = o.syntax == JsonSyntax::Json ? o.max_whitespace : 0;
  s->max_depth = o.max_depth;
  const Standard& st = standard(o.syntax);
  s->dfas = {st.plain, st.key_json, st.key_any};
  s->neutral = {st.plain.start, st.key_neutral,
                o.syntax == JsonSyntax::Json ? st.key_any.step(st.key_any.start, '"') : st.key_neutral};
  s->plain_dfa = 0;
  s->plain_neutral = st.plain.start;
  s->free_key_json = 1;
  s->free_key_any = 2;
  Node any;
  any.types = T_ALL;
  any.additional = 0;
  any.items = 0;
  any.free_key_dfa = s->free_key_any;
  any.str_dfa = s->plain_dfa;
  s->nodes.push_back(any);
  return s;
}

int64_t get_count(const Json& v, const std::string& path, const char* key) {
  if (v.is_number_unsigned() || v.is_number_integer()) {
    if (v.is_number_integer() && v.get<int64_t>() < 0) fail_kw(path, key, "must be a non-negative integer");
    return v.is_number_unsigned() ? int64_t(std::min<uint64_t>(v.get<uint64_t>(), uint64_t(1) << 60)) : v.get<int64_t>();
  }
  if (v.is_number_float()) {
    double d = v.get<double>();
    if (d >= 0 && d == double(int64_t(std::min(d, 1e18)))) return int64_t(std::min(d, 1e18));
  }
  fail_kw(path, key, "must be a non-negative integer");
}

struct ObjPart {
  std::vector<std::pair<std::string, Ref>> props;
  std::optional<Ref> additional;  // absent: true
};

struct ArrPart {
  std::vector<Ref> prefix;
  std::optional<Ref> rest;  // absent: true
};

// What the members of a conjunction say, merged.
struct Draft {
  uint32_t types = T_ALL;
  bool typed = false;
  uint32_t inferred = 0;  // kinds the keywords are about, when no member gives a type
  bool has_enum = false;
  std::vector<Json> enum_values;
  std::vector<ObjPart> obj;
  std::vector<std::string> required;  // in order of appearance
  std::set<std::string> required_set;
  std::vector<ArrPart> arr;
  int64_t min_items = 0, max_items = -1;
  int64_t min_len = 0, max_len = -1;
  std::vector<std::pair<std::string, std::string>> patterns;  // (regex, pointer)
  std::vector<std::pair<std::string, std::string>> formats;   // (name, pointer)
  bool bounded = false;
  Int128 lo = -pow10_128(33), hi = pow10_128(33);
  std::string unsat;
};

void merge_max(int64_t& into, int64_t v) { into = std::max(into, v); }
void merge_min_opt(int64_t& into, int64_t v) { into = into < 0 ? v : std::min(into, v); }

class Compiler {
 public:
  Compiler(Schema& out, const Json& root) : out_(out), root_(root) {}

  int compile_list(std::vector<Ref> members) {
    struct Guard {
      int& d;
      explicit Guard(int& x) : d(x) { ++d; }
      ~Guard() { --d; }
    } guard(depth_);
    if (members.empty()) return 0;
    if (depth_ > kMaxSchemaDepth) fail_at(members[0].path, "the schema is nested too deeply");
    if (members.size() == 1 && is_pure_ref(members[0])) return ref_node(members[0]);
    std::vector<Ref> ex;
    for (const Ref& m : members) expand(m, ex, 0);
    if (ex.empty()) return 0;
    for (size_t i = 0; i < ex.size(); ++i) {
      if (!ex[i].s->is_object()) continue;
      for (const char* key : {"anyOf", "oneOf"}) {
        const uint8_t bit = key[0] == 'a' ? SKIP_ANYOF : SKIP_ONEOF;
        if ((ex[i].skip & bit) || !ex[i].s->contains(key)) continue;
        return distribute(ex, i, key, bit);
      }
    }
    Draft d;
    for (const Ref& m : ex) apply(m, d);
    return make_node(d, ex[0].path);
  }

 private:
  int new_node(const std::string& path) {
    if (out_.nodes.size() >= kMaxNodes)
      fail_at(path, "the schema is too large (more than " + std::to_string(kMaxNodes) + " compiled nodes)");
    out_.nodes.emplace_back();
    out_.nodes.back().path = path;
    return int(out_.nodes.size() - 1);
  }

  static bool is_pure_ref(const Ref& m) {
    if (!m.s->is_object() || !m.s->contains("$ref") || (m.skip & SKIP_REF)) return false;
    for (auto it = m.s->begin(); it != m.s->end(); ++it)
      if (it.key() != "$ref" && !is_annotation(it.key())) return false;
    return true;
  }

  bool has_assertions(const Ref& m) const {
    for (auto it = m.s->begin(); it != m.s->end(); ++it) {
      const std::string& k = it.key();
      if (is_annotation(k)) continue;
      if ((k == "$ref" && (m.skip & SKIP_REF)) || (k == "allOf" && (m.skip & SKIP_ALLOF))) continue;
      return true;
    }
    return false;
  }

  static void check_keywords(const Json& s, const std::string& path) {
    for (auto it = s.begin(); it != s.end(); ++it) {
      const std::string& k = it.key();
      if (is_annotation(k) || is_supported(k)) continue;
      if (is_known_unsupported(k)) fail_kw(path, k, "this keyword is not supported by the constraint compiler");
      fail_kw(path, k, "unknown keyword");
    }
  }

  std::pair<const Json*, std::string> resolve(const Ref& m) {
    const Json& r = (*m.s)["$ref"];
    if (!r.is_string()) fail_kw(m.path, "$ref", "must be a string");
    const std::string ref = r.get<std::string>();
    if (ref.empty() || ref[0] != '#')
      fail_kw(m.path, "$ref", "only local references (\"#\" or \"#/...\") are supported, got \"" + ref + "\"");
    try {
      Json::json_pointer ptr(ref.substr(1));
      return {&root_.at(ptr), ref.substr(1)};
    } catch (const Json::exception&) {
      fail_kw(m.path, "$ref", "\"" + ref + "\" does not resolve to a schema in this document");
    }
  }

  int ref_node(const Ref& m) {
    const std::string ref = (*m.s)["$ref"].is_string() ? (*m.s)["$ref"].get<std::string>() : "";
    auto it = refs_.find(ref);
    if (it != refs_.end()) return it->second;
    auto [target, tpath] = resolve(m);
    int idx = new_node(tpath);
    refs_[ref] = idx;
    int t = compile_list({Ref{target, tpath, 0}});
    out_.nodes[size_t(idx)].any_of = {t};
    return idx;
  }

  void expand(Ref m, std::vector<Ref>& out, int level) {
    if (level > kMaxSchemaDepth) fail_at(m.path, "allOf/$ref nested too deeply");
    if (m.s->is_boolean()) {
      if (!m.s->get<bool>()) out.push_back(m);
      return;
    }
    if (!m.s->is_object()) fail_at(m.path, "a schema must be an object or a boolean");
    check_keywords(*m.s, m.path);
    if (m.s->contains("$ref") && !(m.skip & SKIP_REF)) {
      auto [target, tpath] = resolve(m);
      const std::string ref = (*m.s)["$ref"].get<std::string>();
      if (std::find(inlining_.begin(), inlining_.end(), ref) != inlining_.end())
        fail_kw(m.path, "$ref",
                "\"" + ref + "\" refers back to itself through allOf or keywords beside $ref; "
                "only recursion through properties/items is supported");
      inlining_.push_back(ref);
      expand(Ref{target, tpath, 0}, out, level + 1);
      inlining_.pop_back();
      m.skip |= SKIP_REF;
    }
    if (m.s->contains("allOf") && !(m.skip & SKIP_ALLOF)) {
      const Json& a = (*m.s)["allOf"];
      if (!a.is_array() || a.empty()) fail_kw(m.path, "allOf", "must be a non-empty array of schemas");
      for (size_t k = 0; k < a.size(); ++k)
        expand(Ref{&a[k], child(child(m.path, "allOf"), std::to_string(k)), 0}, out, level + 1);
      m.skip |= SKIP_ALLOF;
    }
    if (has_assertions(m)) out.push_back(m);
  }

  int null_node() {
    if (null_node_ < 0) {
      null_node_ = new_node("");
      out_.nodes[size_t(null_node_)].types = T_NULL;
    }
    return null_node_;
  }

  int distribute(const std::vector<Ref>& ex, size_t i, const char* key, uint8_t bit) {
    const Ref& m = ex[i];
    const Json& alts = (*m.s)[key];
    if (!alts.is_array() || alts.empty()) fail_kw(m.path, key, "must be a non-empty array of schemas");
    const int idx = new_node(m.path);
    std::vector<int> kids;
    for (size_t k = 0; k < alts.size(); ++k) {
      std::vector<Ref> mem = ex;
      mem[i].skip |= bit;
      mem.push_back(Ref{&alts[k], child(child(m.path, key), std::to_string(k)), 0});
      kids.push_back(compile_list(std::move(mem)));
    }
    const Json* nullable = m.s->contains("nullable") ? &(*m.s)["nullable"] : nullptr;
    if (nullable && nullable->is_boolean() && nullable->get<bool>()) kids.push_back(null_node());
    out_.nodes[size_t(idx)].any_of = std::move(kids);
    return idx;
  }

  // ---- keywords ----

  static uint32_t type_bits(const std::string& name, const std::string& path) {
    if (name == "object") return T_OBJ;
    if (name == "array") return T_ARR;
    if (name == "string") return T_STR;
    if (name == "number") return T_NUM | T_INT;
    if (name == "integer") return T_INT;
    if (name == "boolean") return T_BOOL;
    if (name == "null") return T_NULL;
    fail_kw(path, "type", "unknown type \"" + name + "\"");
  }

  static Ref sub(const Json& v, const std::string& path) {
    if (!v.is_object() && !v.is_boolean()) fail_at(path, "a schema must be an object or a boolean");
    return Ref{&v, path, 0};
  }

  // A text equal for JSON-equal values: object members sorted, integral numbers as integers.
  static std::string canonical(const Json& v) {
    if (v.is_number_float()) {
      const double x = v.get<double>();
      if (std::floor(x) == x && std::fabs(x) < 9007199254740992.0) return Json(int64_t(x)).dump();
      return v.dump();
    }
    if (v.is_object()) {
      std::map<std::string, std::string> m;
      for (auto it = v.begin(); it != v.end(); ++it) m[it.key()] = canonical(it.value());
      std::string out = "{";
      for (const auto& [k, x] : m) out += Json(k).dump() + ":" + x + ",";
      return out + "}";
    }
    if (v.is_array()) {
      std::string out = "[";
      for (const Json& x : v) out += canonical(x) + ",";
      return out + "]";
    }
    return v.dump(-1, ' ', false, Json::error_handler_t::replace);
  }

  static void intersect_enum(Draft& d, const std::vector<Json>& values) {
    std::set<std::string> have, seen;
    if (d.has_enum)
      for (const Json& e : d.enum_values) have.insert(canonical(e));
    std::vector<Json> keep;
    for (const Json& v : values) {
      const std::string key = canonical(v);
      if (!seen.insert(key).second) continue;
      if (!d.has_enum || have.count(key)) keep.push_back(v);
    }
    d.has_enum = true;
    d.enum_values = std::move(keep);
  }

  void apply(const Ref& m, Draft& d) {
    if (m.s->is_boolean()) {  // only `false` is kept
      d.unsat = "the schema is false";
      return;
    }
    const Json& s = *m.s;
    const std::string& path = m.path;
    const bool nullable = s.contains("nullable") && s["nullable"].is_boolean() && s["nullable"].get<bool>();
    if (s.contains("nullable") && !s["nullable"].is_boolean()) fail_kw(path, "nullable", "must be a boolean");
    if (s.contains("type")) {
      const Json& t = s["type"];
      uint32_t bits = 0;
      if (t.is_string()) {
        bits = type_bits(t.get<std::string>(), path);
      } else if (t.is_array() && !t.empty()) {
        for (const Json& x : t) {
          if (!x.is_string()) fail_kw(path, "type", "must be a type name or an array of them");
          bits |= type_bits(x.get<std::string>(), path);
        }
      } else {
        fail_kw(path, "type", "must be a type name or an array of them");
      }
      if (nullable) bits |= T_NULL;
      d.types &= bits;
      d.typed = true;
    }
    if (s.contains("enum")) {
      const Json& e = s["enum"];
      if (!e.is_array() || e.empty()) fail_kw(path, "enum", "must be a non-empty array");
      intersect_enum(d, std::vector<Json>(e.begin(), e.end()));
    }
    if (s.contains("const")) intersect_enum(d, {s["const"]});
    apply_object(s, path, d);
    apply_array(s, path, d);
    apply_string(s, path, d);
    apply_number(s, path, d);
  }

  void apply_object(const Json& s, const std::string& path, Draft& d) {
    const bool has_props = s.contains("properties"), has_add = s.contains("additionalProperties");
    if (has_props || has_add) {
      ObjPart part;
      if (has_props) {
        const Json& p = s["properties"];
        if (!p.is_object()) fail_kw(path, "properties", "must be an object of schemas");
        for (auto it = p.begin(); it != p.end(); ++it)
          part.props.emplace_back(it.key(), sub(it.value(), child(child(path, "properties"), it.key())));
      }
      if (has_add) part.additional = sub(s["additionalProperties"], child(path, "additionalProperties"));
      d.obj.push_back(std::move(part));
      d.inferred |= T_OBJ;
    }
    if (s.contains("required")) {
      const Json& r = s["required"];
      if (!r.is_array()) fail_kw(path, "required", "must be an array of property names");
      for (const Json& x : r) {
        if (!x.is_string()) fail_kw(path, "required", "must be an array of property names");
        if (d.required_set.insert(x.get<std::string>()).second) d.required.push_back(x.get<std::string>());
      }
      d.inferred |= T_OBJ;
    }
    if (s.contains("minProperties")) {
      if (get_count(s["minProperties"], path, "minProperties") != 0)
        fail_kw(path, "minProperties", "only 0 is supported (use required)");
      d.inferred |= T_OBJ;
    }
  }

  void apply_array(const Json& s, const std::string& path, Draft& d) {
    const bool has_prefix = s.contains("prefixItems");
    const bool tuple_items = s.contains("items") && s["items"].is_array();
    if (has_prefix && tuple_items) fail_kw(path, "items", "must be a schema when prefixItems is present");
    ArrPart part;
    bool any = false;
    auto prefix_of = [&](const Json& a, const char* key) {
      if (!a.is_array()) fail_kw(path, key, "must be an array of schemas");
      for (size_t i = 0; i < a.size(); ++i) part.prefix.push_back(sub(a[i], child(child(path, key), std::to_string(i))));
      any = true;
    };
    if (has_prefix) prefix_of(s["prefixItems"], "prefixItems");
    if (tuple_items) {
      prefix_of(s["items"], "items");
      if (s.contains("additionalItems")) part.rest = sub(s["additionalItems"], child(path, "additionalItems"));
    } else {
      if (s.contains("items")) {
        part.rest = sub(s["items"], child(path, "items"));
        any = true;
      }
      if (s.contains("additionalItems")) sub(s["additionalItems"], child(path, "additionalItems"));  // no effect
    }
    if (any) {
      d.arr.push_back(std::move(part));
      d.inferred |= T_ARR;
    }
    if (s.contains("minItems")) {
      merge_max(d.min_items, get_count(s["minItems"], path, "minItems"));
      d.inferred |= T_ARR;
    }
    if (s.contains("maxItems")) {
      merge_min_opt(d.max_items, get_count(s["maxItems"], path, "maxItems"));
      d.inferred |= T_ARR;
    }
    if (s.contains("uniqueItems")) {
      const Json& u = s["uniqueItems"];
      if (!u.is_boolean()) fail_kw(path, "uniqueItems", "must be a boolean");
      if (u.get<bool>()) fail_kw(path, "uniqueItems", "uniqueItems: true is not supported by the constraint compiler");
    }
  }

  void apply_string(const Json& s, const std::string& path, Draft& d) {
    if (s.contains("minLength")) {
      merge_max(d.min_len, get_count(s["minLength"], path, "minLength"));
      d.inferred |= T_STR;
    }
    if (s.contains("maxLength")) {
      merge_min_opt(d.max_len, get_count(s["maxLength"], path, "maxLength"));
      d.inferred |= T_STR;
    }
    if (s.contains("pattern")) {
      if (!s["pattern"].is_string()) fail_kw(path, "pattern", "must be a string");
      d.patterns.emplace_back(s["pattern"].get<std::string>(), child(path, "pattern"));
      d.inferred |= T_STR;
    }
    if (s.contains("format")) {
      if (!s["format"].is_string()) fail_kw(path, "format", "must be a string");
      const std::string f = s["format"].get<std::string>();
      if (format_regex(f).empty())
        fail_kw(path, "format",
                "the format \"" + f + "\" is not supported (supported: date, time, date-time, uuid, email, ipv4)");
      d.formats.emplace_back(f, child(path, "format"));
      d.inferred |= T_STR;
    }
  }

  void apply_number(const Json& s, const std::string& path, Draft& d) {
    auto number = [&](const char* key) -> const Json* {
      if (!s.contains(key)) return nullptr;
      const Json& v = s[key];
      if (v.is_boolean() && (std::string(key) == "exclusiveMinimum" || std::string(key) == "exclusiveMaximum"))
        return nullptr;  // draft 4 form, read below
      if (!v.is_number()) fail_kw(path, key, "must be a number");
      d.bounded = true;
      d.inferred |= T_NUM | T_INT;
      return &v;
    };
    auto flag = [&](const char* key) { return s.contains(key) && s[key].is_boolean() && s[key].get<bool>(); };
    const bool excl_min = flag("exclusiveMinimum"), excl_max = flag("exclusiveMaximum");
    if (const Json* v = number("minimum")) d.lo = std::max(d.lo, excl_min ? scaled_number(*v, false) + 1 : scaled_number(*v, true));
    if (const Json* v = number("exclusiveMinimum")) d.lo = std::max(d.lo, scaled_number(*v, false) + 1);
    if (const Json* v = number("maximum")) d.hi = std::min(d.hi, excl_max ? scaled_number(*v, true) - 1 : scaled_number(*v, false));
    if (const Json* v = number("exclusiveMaximum")) d.hi = std::min(d.hi, scaled_number(*v, true) - 1);
  }

  // ---- nodes ----

  int make_node(const Draft& d, const std::string& path) {
    const int idx = new_node(path);
    Node n;
    n.path = path;
    n.types = d.typed ? d.types : (d.inferred ? d.inferred : T_ALL);
    if (!d.unsat.empty()) {
      n.types = 0;
      n.why = d.unsat;
      out_.nodes[size_t(idx)] = std::move(n);
      return idx;
    }
    if (!d.typed && d.inferred && d.has_enum) n.types = T_ALL;  // the enum decides the kinds
    n.has_enum = d.has_enum;
    n.enum_values = d.enum_values;
    if (n.types & T_OBJ) make_object(d, path, n);
    if (n.types & T_ARR) make_array(d, path, n);
    if (n.types & T_STR) make_string(d, path, n);
    if (n.types & (T_NUM | T_INT)) make_number(d, n);
    if (!n.has_enum && n.types == 0 && n.why.empty()) n.why = "no type is left";
    out_.nodes[size_t(idx)] = std::move(n);
    return idx;
  }

  void make_object(const Draft& d, const std::string& path, Node& n) {
    std::vector<std::string> names;
    std::map<std::string, size_t> index;
    auto find = [&](const std::string& name) {
      if (index.emplace(name, names.size()).second) names.push_back(name);
      if (names.size() > kMaxProps) fail_at(path, "too many properties (more than " + std::to_string(kMaxProps) + ")");
    };
    for (const ObjPart& part : d.obj)
      for (const auto& kv : part.props) find(kv.first);
    for (const std::string& r : d.required) find(r);
    // each property: its schema in every member that declares it, else that member's additionalProperties
    std::vector<std::vector<Ref>> conj(names.size());
    for (const ObjPart& part : d.obj) {
      std::vector<const Ref*> mine(names.size(), nullptr);
      for (const auto& kv : part.props) mine[index[kv.first]] = &kv.second;
      for (size_t i = 0; i < names.size(); ++i) {
        if (mine[i]) conj[i].push_back(*mine[i]);
        else if (part.additional) conj[i].push_back(*part.additional);
      }
    }
    std::vector<size_t> order(names.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    if (out_.syntax == JsonSyntax::Gemma) order = dictsort_order(names);
    for (size_t i : order) {
      n.prop_names.push_back(names[i]);
      n.prop_nodes.push_back(compile_list(conj[i]));
      n.prop_required.push_back(d.required_set.count(names[i]) > 0);
      try {
        n.key_texts.push_back(render_key(names[i], out_.syntax));
      } catch (const Error& e) {
        fail_at(child(child(path, "properties"), names[i]), e.what());
      }
      for (const std::string& mk : forbidden_markers(JsonSyntax::Json))
        if (out_.syntax == JsonSyntax::Json && names[i].find(mk) != std::string::npos)
          fail_at(child(child(path, "properties"), names[i]),
                  "the property name contains the model's control marker " + mk + ", which the output parser would cut");
    }
    std::vector<Ref> add;
    bool add_false = false;
    for (const ObjPart& part : d.obj) {
      if (!part.additional) continue;
      if (part.additional->s->is_boolean() && !part.additional->s->get<bool>()) add_false = true;
      add.push_back(*part.additional);
    }
    n.additional = add_false ? -1 : compile_list(add);
    n.free_key_dfa = out_.syntax == JsonSyntax::Json && names.empty() ? out_.free_key_any
                     : out_.syntax == JsonSyntax::Json                ? out_.free_key_json
                                                                      : out_.free_key_any;
  }

  void make_array(const Draft& d, const std::string& path, Node& n) {
    size_t plen = 0;
    for (const ArrPart& p : d.arr) plen = std::max(plen, p.prefix.size());
    if (plen > kMaxProps) fail_at(path, "too many prefixItems");
    for (size_t i = 0; i < plen; ++i) {
      std::vector<Ref> conj;
      for (const ArrPart& p : d.arr) {
        if (i < p.prefix.size()) conj.push_back(p.prefix[i]);
        else if (p.rest) conj.push_back(*p.rest);
      }
      n.prefix.push_back(compile_list(conj));
    }
    std::vector<Ref> rest;
    bool rest_false = false;
    for (const ArrPart& p : d.arr) {
      if (!p.rest) continue;
      if (p.rest->s->is_boolean() && !p.rest->s->get<bool>()) rest_false = true;
      rest.push_back(*p.rest);
    }
    n.items = rest_false ? -1 : compile_list(rest);
    n.min_items = d.min_items;
    n.max_items = d.max_items;
    if (n.max_items >= 0 && n.min_items > n.max_items) {
      n.types &= ~T_ARR;
      n.why = "minItems is above maxItems";
    } else if (n.items < 0 && n.min_items > int64_t(n.prefix.size())) {
      n.types &= ~T_ARR;
      n.why = "minItems is above the number of items allowed";
    }
  }

  void make_string(const Draft& d, const std::string& path, Node& n) {
    n.min_len = d.min_len;
    n.max_len = d.max_len;
    n.str_dfa = out_.plain_dfa;
    if (n.max_len >= 0 && n.min_len > n.max_len) {
      n.types &= ~T_STR;
      n.why = "minLength is above maxLength";
      return;
    }
    if (d.patterns.empty() && d.formats.empty()) return;
    std::string key = std::to_string(d.min_len) + "," + std::to_string(d.max_len);
    for (const auto& p : d.patterns) key += "\np" + p.first;
    for (const auto& f : d.formats) key += "\nf" + f.first;
    auto it = dfa_cache_.find(key);
    if (it == dfa_cache_.end()) {
      ByteDfa dfa = out_.dfas[size_t(out_.plain_dfa)];
      for (const auto& [pat, ptr] : d.patterns) {
        try {
          dfa = intersect(dfa, compile_regex(pat));
        } catch (const SchemaError&) {
          throw;
        } catch (const Error& e) {
          throw SchemaError(ptr, "pattern", "JSON Schema keyword \"pattern\" at " + shown(ptr) + ": " + e.what());
        }
      }
      for (const auto& [fmt, ptr] : d.formats) dfa = intersect(dfa, compile_anchored_regex(format_regex(fmt)));
      if (d.min_len > 0 || d.max_len >= 0) {
        try {
          dfa = limit_length(dfa, d.min_len, d.max_len);
        } catch (const Error& e) {
          fail_at(path, e.what());
        }
      }
      dfa_entries_ += dfa.next.size();
      if (dfa_entries_ > kMaxDfaEntries) fail_at(path, "the string constraints of this schema are too large in all");
      it = dfa_cache_.emplace(key, int(out_.dfas.size())).first;
      out_.dfas.push_back(std::move(dfa));
      out_.neutral.push_back(-1);
    }
    n.str_dfa = it->second;
    n.str_plain = false;
    if (out_.dfas[size_t(n.str_dfa)].empty()) {
      n.types &= ~T_STR;
      n.why = "no string satisfies pattern/format/minLength/maxLength together";
    }
  }

  static void make_number(const Draft& d, Node& n) {
    n.bounded = d.bounded;
    n.lo = d.lo;
    n.hi = d.hi;
    if (!n.bounded) return;
    NumProgress p;
    p.int_only = !(n.types & T_NUM);
    bool ok = number_viable(n, p);
    p.neg = true;
    ok = ok || number_viable(n, p);
    if (!ok) {
      n.types &= ~(T_NUM | T_INT);
      n.why = std::string("no ") + (p.int_only ? "integer" : "number") + " of at most " +
              std::to_string(p.int_only ? kMaxIntDigits : kMaxBoundedDigits) + " digits is within the bounds";
    }
  }

  Schema& out_;
  const Json& root_;
  std::map<std::string, int> refs_;
  std::vector<std::string> inlining_;
  std::map<std::string, int> dfa_cache_;
  size_t dfa_entries_ = 0;
  int depth_ = 0;
  int null_node_ = -1;
};

// ---- finalize ----

void flatten(Schema& s, int i, std::vector<int>& flat, std::vector<int>& visiting) {
  if (std::find(visiting.begin(), visiting.end(), i) != visiting.end())
    fail_at(s.nodes[size_t(i)].path, "the schema refers to itself (through $ref/anyOf) without an object or array in between");
  const Node& n = s.nodes[size_t(i)];
  if (n.any_of.empty()) {
    if (std::find(flat.begin(), flat.end(), i) == flat.end()) flat.push_back(i);
    return;
  }
  visiting.push_back(i);
  const std::vector<int> alts = n.any_of;
  for (int a : alts) flatten(s, a, flat, visiting);
  visiting.pop_back();
}

int item_node(const Node& n, int64_t i) { return i < int64_t(n.prefix.size()) ? n.prefix[size_t(i)] : n.items; }

void compute_depths(Schema& s) {
  const int D = s.max_depth;
  for (Node& n : s.nodes) n.min_depth = n.obj_depth = n.arr_depth = kInfDepth;
  auto clamp = [D](int v) { return v > D ? kInfDepth : v; };
  for (int round = 0; round < 2 * D + 8; ++round) {
    bool changed = false;
    for (Node& n : s.nodes) {
      int md = kInfDepth;
      if (!n.any_of.empty()) {
        for (int a : n.any_of) md = std::min(md, s.nodes[size_t(a)].min_depth);
      } else if (n.has_enum) {
        md = n.literals.empty() ? kInfDepth : n.literal_depth;
      } else {
        if (n.types & (T_STR | T_NUM | T_INT | T_BOOL | T_NULL)) md = 0;
        if (n.types & T_OBJ) {
          int od = 1;
          for (size_t p = 0; p < n.prop_nodes.size(); ++p)
            if (n.prop_required[p]) od = std::max(od, 1 + s.nodes[size_t(n.prop_nodes[p])].min_depth);
          n.obj_depth = clamp(od);
          md = std::min(md, n.obj_depth);
        }
        if (n.types & T_ARR) {
          int ad = 1;
          // items past the prefix share one node: looking at one of them is enough
          const int64_t need = std::min<int64_t>(n.min_items, int64_t(n.prefix.size()) + 1);
          for (int64_t k = 0; k < need && ad < kInfDepth; ++k) {
            int it = item_node(n, k);
            ad = std::max(ad, it < 0 ? kInfDepth : 1 + s.nodes[size_t(it)].min_depth);
          }
          n.arr_depth = clamp(ad);
          md = std::min(md, n.arr_depth);
        }
      }
      md = clamp(md);
      if (md != n.min_depth) {
        n.min_depth = md;
        changed = true;
      }
    }
    if (!changed) break;
  }
}

std::string explain(const Schema& s, int i, int hops) {
  if (hops > 32) return "";
  const Node& n = s.nodes[size_t(i)];
  if (!n.why.empty()) return shown(n.path) + ": " + n.why;
  for (int a : n.any_of) {
    std::string r = explain(s, a, hops + 1);
    if (!r.empty()) return r;
  }
  if (n.has_enum && n.literals.empty()) return shown(n.path) + ": no enum/const value satisfies the rest of the schema";
  if (n.types & T_OBJ)
    for (size_t p = 0; p < n.prop_nodes.size(); ++p)
      if (n.prop_required[p] && s.nodes[size_t(n.prop_nodes[p])].min_depth >= kInfDepth) {
        std::string r = explain(s, n.prop_nodes[p], hops + 1);
        return r.empty() ? "the required property \"" + n.prop_names[p] + "\" accepts no value" : r;
      }
  return "";
}

void finalize(Schema& s) {
  for (size_t i = 0; i < s.nodes.size(); ++i) {
    if (s.nodes[i].finalized || s.nodes[i].any_of.empty()) continue;
    std::vector<int> flat, visiting;
    flatten(s, int(i), flat, visiting);
    s.nodes[i].any_of = std::move(flat);
  }
  for (size_t i = 0; i < s.nodes.size(); ++i) {
    Node& n = s.nodes[i];
    if (n.finalized) continue;
    if (n.has_enum) {
      std::vector<std::string> lits;
      int depth = 0;
      for (const Json& v : n.enum_values) {
        if (!validate_value(s, int(i), v, true)) continue;
        std::string text;
        try {
          text = render_literal(v, s.syntax);
        } catch (const Error& e) {
          fail_at(n.path, std::string("an enum/const value cannot be written: ") + e.what());
        }
        if (s.syntax == JsonSyntax::Json)
          for (const std::string& mk : forbidden_markers(JsonSyntax::Json))
            if (text.find(mk) != std::string::npos)
              fail_at(n.path, "an enum/const value contains the model's control marker " + mk +
                                  ", which the output parser would cut");
        lits.push_back(std::move(text));
        depth = std::max(depth, json_depth(v));
      }
      std::sort(lits.begin(), lits.end());
      lits.erase(std::unique(lits.begin(), lits.end()), lits.end());
      Node& m = s.nodes[i];
      m.literals = std::move(lits);
      m.literal_depth = depth;
    }
    Node& m = s.nodes[i];
    const int np = int(m.prop_names.size());
    m.next_required.assign(size_t(np) + 1, np);
    for (int last = np - 1; last >= 0; --last)
      m.next_required[size_t(last)] = m.prop_required[size_t(last)] ? last : m.next_required[size_t(last) + 1];
    // next_required[last + 1]: the first required index after `last`
    std::vector<size_t> ord(m.key_texts.size());
    for (size_t k = 0; k < ord.size(); ++k) ord[k] = k;
    std::sort(ord.begin(), ord.end(), [&](size_t a, size_t b) { return m.key_texts[a] < m.key_texts[b]; });
    std::vector<std::string> texts;
    m.key_prop.clear();
    for (size_t k : ord) {
      texts.push_back(m.key_texts[k]);
      m.key_prop.push_back(int(k));
    }
    m.key_texts = std::move(texts);
    m.finalized = true;
  }
  compute_depths(s);
}

void check_root(const Schema& s, int root, const std::string& what) {
  if (s.nodes[size_t(root)].min_depth < kInfDepth) return;
  std::string why = explain(s, root, 0);
  throw SchemaError("", "", what + " accepts no value within " + std::to_string(s.max_depth) + " levels of nesting" +
                                (why.empty() ? std::string() : " (" + why + ")"));
}

}  // namespace

std::shared_ptr<Schema> compile_schema(const Json& schema, const JsonConstraintOptions& options) {
  auto s = base_schema(options);
  if (!schema.is_object() && !schema.is_boolean()) fail_at("", "a schema must be an object or a boolean");
  Compiler c(*s, schema);
  s->root = c.compile_list({Ref{&schema, "", 0}});
  finalize(*s);
  check_root(*s, s->root, "the schema");
  return s;
}

std::shared_ptr<Schema> compile_any_object(const JsonConstraintOptions& options) {
  auto s = base_schema(options);
  Node obj = s->nodes[0];
  obj.types = T_OBJ;
  s->nodes.push_back(obj);
  s->root = 1;
  finalize(*s);
  return s;
}

std::shared_ptr<Schema> compile_tool_calls(const std::vector<ToolSchema>& tools, const JsonConstraintOptions& options) {
  check(!tools.empty(), "no tool to call");
  auto s = base_schema(options);
  std::vector<std::pair<std::string, int>> calls;
  for (size_t t = 0; t < tools.size(); ++t) {
    try {
      const Json& params = tools[t].parameters;
      if (!params.is_object() && !params.is_boolean()) fail_at("", "a schema must be an object or a boolean");
      Compiler c(*s, params);
      int args = c.compile_list({Ref{&params, "", 0}, Ref{&object_type_schema(), "", 0}});
      finalize(*s);
      check_root(*s, args, "the parameters schema of tool \"" + tools[t].name + "\"");
      calls.emplace_back("call:" + tools[t].name, args);
    } catch (SchemaError& e) {
      e.tool = int(t);
      throw;
    }
  }
  std::sort(calls.begin(), calls.end());
  for (size_t k = 1; k < calls.size(); ++k)
    check(calls[k].first != calls[k - 1].first, "duplicate tool name \"" + calls[k].first.substr(5) + "\"");
  for (auto& [text, args] : calls) {
    s->tool_texts.push_back(text);
    s->tool_args.push_back(args);
  }
  s->tool_root = true;
  return s;
}

}  // namespace g4::jsonc
