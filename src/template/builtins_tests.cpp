// Jinja2's tests ("is defined", "is divisibleby 3", ...), by name.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <unordered_map>

#include "core/error.h"
#include "template/builtins.h"
#include "template/builtins_impl.h"
#include "template/interpreter.h"

namespace g4::tpl {

using namespace detail;

namespace detail {

bool t_lower(Interp&, const Value& v, CallArgs&) {
  bool cased = false;
  for (uint32_t c : utf8_decode(sval(v))) {
    if (py_lower(c) != c) return false;
    if (py_upper(c) != c) cased = true;
  }
  return cased;
}
bool t_upper(Interp&, const Value& v, CallArgs&) {
  bool cased = false;
  for (uint32_t c : utf8_decode(sval(v))) {
    if (py_upper(c) != c) return false;
    if (py_lower(c) != c) cased = true;
  }
  return cased;
}

}  // namespace detail

namespace {

using TestFn = bool (*)(Interp&, const Value&, CallArgs&);

// ---- tests ------------------------------------------------------------------------------------

const Value& arg0(const CallArgs& a, const char* name) {
  if (!a.pos.empty()) return a.pos[0];
  for (auto& [k, v] : a.kw)
    if (k != "") return v;
  throw Error(std::string("test '") + name + "' requires an argument");
}

bool t_boolean(Interp&, const Value& v, CallArgs&) { return v.is_bool(); }
bool t_callable(Interp&, const Value& v, CallArgs&) { return v.is_callable(); }
bool t_defined(Interp&, const Value& v, CallArgs&) { return !v.is_undefined(); }
bool t_undefined(Interp&, const Value& v, CallArgs&) { return v.is_undefined(); }
bool t_divisibleby(Interp&, const Value& v, CallArgs& a) {
  const Value& n = arg0(a, "divisibleby");
  if (int_like(v) && int_like(n)) {
    if (n.as_int() == 0) throw Error("integer division or modulo by zero");
    return v.as_int() % n.as_int() == 0;
  }
  if (v.is_number() && n.is_number()) {
    if (n.as_float() == 0) throw Error("float modulo");
    return std::fmod(v.as_float(), n.as_float()) == 0;
  }
  throw Error("unsupported operand type(s) for %");
}
bool t_eq(Interp&, const Value& v, CallArgs& a) { return values_equal(v, arg0(a, "eq")); }
bool t_ne(Interp&, const Value& v, CallArgs& a) { return !values_equal(v, arg0(a, "ne")); }
bool t_lt(Interp&, const Value& v, CallArgs& a) { return value_less(v, arg0(a, "lt")); }
bool t_le(Interp&, const Value& v, CallArgs& a) { return !value_less(arg0(a, "le"), v); }
bool t_gt(Interp&, const Value& v, CallArgs& a) { return value_less(arg0(a, "gt"), v); }
bool t_ge(Interp&, const Value& v, CallArgs& a) { return !value_less(v, arg0(a, "ge")); }
bool t_escaped(Interp&, const Value&, CallArgs&) { return false; }
bool t_even(Interp&, const Value& v, CallArgs&) {
  if (int_like(v)) return v.as_int() % 2 == 0;
  if (v.is_float()) return std::fmod(v.as_float(), 2.0) == 0;
  throw Error("unsupported operand type(s) for %: '" + v.type_name() + "' and 'int'");
}
bool t_odd(Interp& in, const Value& v, CallArgs& a) {
  if (int_like(v)) return v.as_int() % 2 != 0;
  return !t_even(in, v, a);
}
bool t_false(Interp&, const Value& v, CallArgs&) { return v.is_bool() && !v.as_bool(); }
bool t_true(Interp&, const Value& v, CallArgs&) { return v.is_bool() && v.as_bool(); }
bool t_filter(Interp&, const Value& v, CallArgs&) { return v.is_string() && has_filter(v.as_string()); }
bool t_test(Interp&, const Value& v, CallArgs&) { return v.is_string() && has_test(v.as_string()); }
bool t_float(Interp&, const Value& v, CallArgs&) { return v.is_float(); }
bool t_integer(Interp&, const Value& v, CallArgs&) { return v.is_int(); }
bool t_in(Interp& in, const Value& v, CallArgs& a) {
  const Value& seq = arg0(a, "in");
  if (seq.is_string()) {
    if (!v.is_string()) throw Error("'in <string>' requires string as left operand, not " + v.type_name());
    return seq.as_string().find(v.as_string()) != std::string::npos;
  }
  if (seq.is_dict()) return seq.dict_data().find(v) != nullptr;
  for (auto& x : in.iterate(seq))
    if (values_equal(x, v)) return true;
  return false;
}
bool t_iterable(Interp&, const Value& v, CallArgs&) {
  return v.is_list() || v.is_dict() || v.is_string() || v.is_undefined();
}

bool t_mapping(Interp&, const Value& v, CallArgs&) { return v.is_dict(); }
bool t_none(Interp&, const Value& v, CallArgs&) { return v.is_none(); }
bool t_number(Interp&, const Value& v, CallArgs&) { return v.is_number(); }
bool t_sameas(Interp&, const Value& v, CallArgs& a) {
  const Value& o = arg0(a, "sameas");
  if (v.kind() != o.kind()) return false;
  switch (v.kind()) {
    case Value::Kind::List:
      return &v.list_data() == &o.list_data();
    case Value::Kind::Dict:
    case Value::Kind::Namespace:
      return v.dict_ptr() == o.dict_ptr();
    case Value::Kind::Object:
      return v.obj_ptr() == o.obj_ptr();
    default:
      return values_equal(v, o);
  }
}
bool t_sequence(Interp&, const Value& v, CallArgs&) {
  return v.is_list() || v.is_dict() || v.is_string() || v.is_undefined();
}
bool t_string(Interp&, const Value& v, CallArgs&) { return v.is_string(); }

const std::unordered_map<std::string, TestFn>& test_table() {
  static const std::unordered_map<std::string, TestFn> t = {
      {"boolean", t_boolean}, {"callable", t_callable},   {"defined", t_defined},   {"undefined", t_undefined},
      {"divisibleby", t_divisibleby}, {"eq", t_eq},       {"equalto", t_eq},        {"==", t_eq},
      {"ne", t_ne},           {"!=", t_ne},               {"lt", t_lt},             {"lessthan", t_lt},
      {"<", t_lt},            {"le", t_le},               {"<=", t_le},             {"gt", t_gt},
      {"greaterthan", t_gt},  {">", t_gt},                {"ge", t_ge},             {">=", t_ge},
      {"escaped", t_escaped}, {"even", t_even},           {"odd", t_odd},           {"false", t_false},
      {"true", t_true},       {"filter", t_filter},       {"test", t_test},         {"float", t_float},
      {"integer", t_integer}, {"in", t_in},               {"iterable", t_iterable}, {"lower", t_lower},
      {"upper", t_upper},     {"mapping", t_mapping},     {"none", t_none},         {"number", t_number},
      {"sameas", t_sameas},   {"sequence", t_sequence},   {"string", t_string},
  };
  return t;
}

}  // namespace

bool has_test(const std::string& name) { return test_table().count(name) != 0; }

bool apply_test(Interp& in, const std::string& name, const Value& v, CallArgs& args) {
  auto& t = test_table();
  auto it = t.find(name);
  if (it == t.end()) throw Error("No test named '" + name + "'.");
  return it->second(in, v, args);
}

}  // namespace g4::tpl
