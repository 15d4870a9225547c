#pragma once
// Internal to src/template: what the builtins files share (builtins.cpp: argument binding;
// builtins_strings.cpp: Python str helpers; builtins_format.cpp: str.format; builtins_tests.cpp: the
// case tests behind str.islower / str.isupper).
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <vector>

#include "template/value.h"

namespace g4::tpl {

class Interp;

namespace detail {

// Arguments bound to parameter names as Python binds them (positional first, then keywords).
struct Bound {
  std::vector<std::optional<Value>> v;
  const Value* get(size_t i) const { return v[i] ? &*v[i] : nullptr; }
  bool has(size_t i) const { return v[i].has_value(); }
  Value or_(size_t i, Value dflt) const { return v[i] ? *v[i] : std::move(dflt); }
};
Bound bind(const CallArgs& a, std::initializer_list<const char*> names, const std::string& fname);
bool int_like(const Value& v);
int64_t to_int_arg(const Value& v, const std::string& what);
std::string sval(const Value& v);
Value str_list(const std::vector<std::string>& parts);

// Python str helpers.
std::vector<std::string> py_split(const std::string& s, const Value* sep, int64_t maxsplit, bool from_right);
std::vector<std::string> py_splitlines(const std::string& s, bool keepends);
std::string py_replace(Interp& in, const std::string& s, const std::string& old, const std::string& rep,
                       int64_t count);
std::string py_capitalize(const std::string& s);
std::string jinja_title(const std::string& s);
// align '<', '>', '^' (format()'s centering: extra space right) or 'c' (str.center()'s CPython rule).
std::string pad_str(Interp& in, const std::string& s, int64_t width, char align, const std::string& fill = " ");
std::string html_escape(const std::string& s);
bool parse_py_int(std::string s, int base, int64_t& out);
bool parse_py_float(std::string s, double& out);
double py_round(double x, int64_t n);

// str.format.
std::string str_format(Interp& in, const std::string& fmt, CallArgs& a);

// The "lower" and "upper" tests.
bool t_lower(Interp&, const Value& v, CallArgs&);
bool t_upper(Interp&, const Value& v, CallArgs&);

}  // namespace detail
}  // namespace g4::tpl
