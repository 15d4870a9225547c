#include "template/builtins.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <unordered_map>

#include "core/error.h"
#include "template/interpreter.h"

namespace g4::tpl {

namespace {

using FilterFn = Value (*)(Interp&, const Value&, CallArgs&);
using TestFn = bool (*)(Interp&, const Value&, CallArgs&);

// ---- argument binding -------------------------------------------------------------------------

struct Bound {
  std::vector<std::optional<Value>> v;
  const Value* get(size_t i) const { return v[i] ? &*v[i] : nullptr; }
  bool has(size_t i) const { return v[i].has_value(); }
  Value or_(size_t i, Value dflt) const { return v[i] ? *v[i] : std::move(dflt); }
};

Bound bind(const CallArgs& a, std::initializer_list<const char*> names, const std::string& fname) {
  std::vector<const char*> ns(names);
  Bound b;
  b.v.resize(ns.size());
  if (a.pos.size() > ns.size())
    throw Error(fname + "() takes at most " + std::to_string(ns.size()) + " argument(s) (" +
                std::to_string(a.pos.size()) + " given)");
  for (size_t i = 0; i < a.pos.size(); ++i) b.v[i] = a.pos[i];
  for (const auto& [k, val] : a.kw) {
    size_t i = 0;
    while (i < ns.size() && k != ns[i]) ++i;
    if (i == ns.size()) throw Error(fname + "() got an unexpected keyword argument '" + k + "'");
    if (b.v[i]) throw Error(fname + "() got multiple values for argument '" + k + "'");
    b.v[i] = val;
  }
  return b;
}

bool int_like(const Value& v) { return v.is_int() || v.is_bool(); }

int64_t to_int_arg(const Value& v, const std::string& what) {
  if (int_like(v)) return v.as_int();
  throw Error("'" + v.type_name() + "' object cannot be interpreted as an integer (" + what + ")");
}

std::string sval(const Value& v) { return to_str(v); }

Value str_list(const std::vector<std::string>& parts) {
  std::vector<Value> items;
  items.reserve(parts.size());
  for (const auto& p : parts) items.push_back(Value::string(p));
  return Value::list(std::move(items));
}

// ---- Python str helpers -----------------------------------------------------------------------

std::vector<std::string> py_split(const std::string& s, const Value* sep, int64_t maxsplit, bool from_right) {
  std::vector<std::string> out;
  if (!sep || sep->is_none()) {
    std::vector<uint32_t> cps = utf8_decode(s);
    if (!from_right) {
      size_t i = 0, n = cps.size();
      while (true) {
        while (i < n && py_isspace(cps[i])) ++i;
        if (i >= n) break;
        if (maxsplit >= 0 && static_cast<int64_t>(out.size()) >= maxsplit) {
          size_t e = n;
          while (e > i && py_isspace(cps[e - 1])) --e;
          out.push_back(utf8_encode(std::vector<uint32_t>(cps.begin() + i, cps.begin() + e)));
          break;
        }
        size_t j = i;
        while (j < n && !py_isspace(cps[j])) ++j;
        out.push_back(utf8_encode(std::vector<uint32_t>(cps.begin() + i, cps.begin() + j)));
        i = j;
      }
    } else {
      int64_t i = static_cast<int64_t>(cps.size());
      while (true) {
        while (i > 0 && py_isspace(cps[i - 1])) --i;
        if (i <= 0) break;
        if (maxsplit >= 0 && static_cast<int64_t>(out.size()) >= maxsplit) {
          int64_t b = 0;
          while (b < i && py_isspace(cps[b])) ++b;
          out.push_back(utf8_encode(std::vector<uint32_t>(cps.begin() + b, cps.begin() + i)));
          break;
        }
        int64_t j = i;
        while (j > 0 && !py_isspace(cps[j - 1])) --j;
        out.push_back(utf8_encode(std::vector<uint32_t>(cps.begin() + j, cps.begin() + i)));
        i = j;
      }
      std::reverse(out.begin(), out.end());
    }
    return out;
  }
  if (!sep->is_string()) throw Error("must be str or None, not " + sep->type_name());
  const std::string& d = sep->as_string();
  if (d.empty()) throw Error("empty separator");
  if (!from_right) {
    size_t pos = 0;
    while (true) {
      if (maxsplit >= 0 && static_cast<int64_t>(out.size()) >= maxsplit) break;
      size_t f = s.find(d, pos);
      if (f == std::string::npos) break;
      out.push_back(s.substr(pos, f - pos));
      pos = f + d.size();
    }
    out.push_back(s.substr(pos));
  } else {
    size_t end = s.size();
    while (true) {
      if (maxsplit >= 0 && static_cast<int64_t>(out.size()) >= maxsplit) break;
      if (end < d.size()) break;
      size_t f = s.rfind(d, end - d.size());
      if (f == std::string::npos) break;
      out.push_back(s.substr(f + d.size(), end - f - d.size()));
      end = f;
    }
    out.push_back(s.substr(0, end));
    std::reverse(out.begin(), out.end());
  }
  return out;
}

std::vector<std::string> py_splitlines(const std::string& s, bool keepends) {
  std::vector<std::string> out;
  std::vector<uint32_t> cps = utf8_decode(s);
  size_t start = 0, i = 0, n = cps.size();
  while (i < n) {
    uint32_t c = cps[i];
    size_t eol = 0;
    if (c == '\r' && i + 1 < n && cps[i + 1] == '\n') eol = 2;
    else if (c == '\n' || c == '\r' || c == 0x0B || c == 0x0C || c == 0x1C || c == 0x1D || c == 0x1E || c == 0x85 ||
             c == 0x2028 || c == 0x2029)
      eol = 1;
    if (eol) {
      size_t e = keepends ? i + eol : i;
      out.push_back(utf8_encode(std::vector<uint32_t>(cps.begin() + start, cps.begin() + e)));
      i += eol;
      start = i;
    } else {
      ++i;
    }
  }
  if (start < n) out.push_back(utf8_encode(std::vector<uint32_t>(cps.begin() + start, cps.end())));
  return out;
}

std::string py_replace(Interp& in, const std::string& s, const std::string& old, const std::string& rep,
                       int64_t count) {
  std::string out;
  if (old.empty()) {
    std::vector<uint32_t> cps = utf8_decode(s);
    int64_t done = 0;
    for (size_t i = 0; i <= cps.size(); ++i) {
      if (count < 0 || done < count) {
        out += rep;
        ++done;
      }
      if (i < cps.size()) utf8_append(out, cps[i]);
      in.check_string(out.size());
    }
    return out;
  }
  size_t pos = 0;
  int64_t done = 0;
  while (count < 0 || done < count) {
    size_t f = s.find(old, pos);
    if (f == std::string::npos) break;
    out.append(s, pos, f - pos);
    out += rep;
    in.check_string(out.size());
    pos = f + old.size();
    ++done;
  }
  out.append(s, pos, std::string::npos);
  in.check_string(out.size());
  return out;
}

bool is_cased(uint32_t c) { return py_lower(c) != c || py_upper(c) != c; }

std::string py_title(const std::string& s) {  // str.title()
  std::string out;
  bool prev_cased = false;
  for (uint32_t c : utf8_decode(s)) {
    uint32_t m = prev_cased ? py_lower(c) : py_upper(c);
    utf8_append(out, m);
    prev_cased = is_cased(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
  }
  return out;
}

std::string py_capitalize(const std::string& s) {
  std::vector<uint32_t> cps = utf8_decode(s);
  std::string out;
  for (size_t i = 0; i < cps.size(); ++i) utf8_append(out, i == 0 ? py_upper(cps[i]) : py_lower(cps[i]));
  return out;
}

std::string jinja_title(const std::string& s) {  // do_title: split on ([-\s({\[<]+)
  std::vector<uint32_t> cps = utf8_decode(s);
  auto is_sep = [](uint32_t c) { return c == '-' || py_isspace(c) || c == '(' || c == '{' || c == '[' || c == '<'; };
  std::string out;
  size_t i = 0;
  while (i < cps.size()) {
    size_t j = i;
    bool sep = is_sep(cps[i]);
    while (j < cps.size() && is_sep(cps[j]) == sep) ++j;
    for (size_t k = i; k < j; ++k) utf8_append(out, sep ? cps[k] : (k == i ? py_upper(cps[k]) : py_lower(cps[k])));
    i = j;
  }
  return out;
}

// align '<', '>', '^' (format()'s centering: extra space right) or 'c' (str.center()'s CPython rule).
std::string pad_str(Interp& in, const std::string& s, int64_t width, char align, const std::string& fill = " ") {
  int64_t len = static_cast<int64_t>(utf8_length(s));
  if (width <= len) return s;
  in.check_string(static_cast<size_t>(width) * fill.size());
  int64_t total = width - len;
  int64_t left = align == '<' ? 0 : align == '>' ? total : total / 2;
  if (align == 'c') left = total / 2 + (total & width & 1);
  std::string out;
  for (int64_t i = 0; i < left; ++i) out += fill;
  out += s;
  for (int64_t i = 0; i < total - left; ++i) out += fill;
  return out;
}

std::string html_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&#34;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

bool parse_py_int(std::string s, int base, int64_t& out) {
  s = str_strip(s, nullptr, true, true);
  if (s.empty()) return false;
  bool neg = false;
  size_t i = 0;
  if (s[0] == '+' || s[0] == '-') {
    neg = s[0] == '-';
    ++i;
  }
  if (base == 0 || base == 16 || base == 8 || base == 2) {
    if (i + 1 < s.size() && s[i] == '0') {
      char p = static_cast<char>(s[i + 1] | 0x20);
      int pb = p == 'x' ? 16 : p == 'o' ? 8 : p == 'b' ? 2 : 0;
      if (pb && (base == 0 || base == pb)) {
        base = pb;
        i += 2;
        if (i < s.size() && s[i] == '_') ++i;
      }
    }
    if (base == 0) base = 10;
  }
  if (base < 2 || base > 36) return false;
  if (i >= s.size()) return false;
  unsigned __int128 v = 0;
  bool prev_digit = false;
  for (; i < s.size(); ++i) {
    char c = s[i];
    if (c == '_') {
      if (!prev_digit || i + 1 >= s.size()) return false;
      prev_digit = false;
      continue;
    }
    int d = (c >= '0' && c <= '9') ? c - '0' : (c >= 'a' && c <= 'z') ? c - 'a' + 10 : (c >= 'A' && c <= 'Z') ? c - 'A' + 10 : 99;
    if (d >= base) return false;
    v = v * static_cast<unsigned>(base) + static_cast<unsigned>(d);
    if (v > static_cast<unsigned __int128>(INT64_MAX) + 1) throw Error("integer overflow");
    prev_digit = true;
  }
  if (!neg && v > static_cast<unsigned __int128>(INT64_MAX)) throw Error("integer overflow");
  out = neg ? static_cast<int64_t>(-static_cast<__int128>(v)) : static_cast<int64_t>(v);
  return true;
}

bool parse_py_float(std::string s, double& out) {
  s = str_strip(s, nullptr, true, true);
  if (s.empty()) return false;
  std::string t;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '_') {
      if (i == 0 || i + 1 >= s.size() || !isdigit(static_cast<unsigned char>(s[i - 1])) ||
          !isdigit(static_cast<unsigned char>(s[i + 1])))
        return false;
      continue;
    }
    t += s[i];
  }
  std::string low = str_lower(t);
  std::string body = (low[0] == '+' || low[0] == '-') ? low.substr(1) : low;
  if (body == "inf" || body == "infinity" || body == "nan") {
    out = body == "nan" ? NAN : INFINITY;
    if (low[0] == '-') out = -out;
    return true;
  }
  for (char c : body)
    if (!(isdigit(static_cast<unsigned char>(c)) || c == '.' || c == 'e' || c == '+' || c == '-')) return false;
  char* end = nullptr;
  out = std::strtod(t.c_str(), &end);
  return end && *end == '\0';
}

// Python's round(x, n) for floats: correctly rounded, ties to even.
double py_round(double x, int64_t n) {
  if (!std::isfinite(x)) return x;
  if (n >= 0) {
    if (n > 300) return x;
    char buf[512];
    std::snprintf(buf, sizeof buf, "%.*f", static_cast<int>(n), x);
    return std::strtod(buf, nullptr);
  }
  if (n < -308) return std::copysign(0.0, x);
  double p = std::pow(10.0, static_cast<double>(-n));
  double y = std::nearbyint(x / p) * p;
  return y;
}

// ---- attribute paths (map/sort/selectattr/... attribute=) -------------------------------------

Value attr_path(Interp& in, const Value& item, const Value& attribute) {
  if (int_like(attribute)) return in.getitem(item, attribute);
  const std::string a = sval(attribute);
  Value cur = item;
  size_t start = 0;
  while (true) {
    size_t d = a.find('.', start);
    std::string part = a.substr(start, d == std::string::npos ? std::string::npos : d - start);
    bool digits = !part.empty() && std::all_of(part.begin(), part.end(), [](char c) { return c >= '0' && c <= '9'; });
    if (digits) cur = in.getitem(cur, Value::integer(std::strtoll(part.c_str(), nullptr, 10)));
    else cur = in.getitem(cur, Value::string(part));
    if (d == std::string::npos) break;
    start = d + 1;
  }
  return cur;
}

Value lower_if_str(const Value& v, bool case_sensitive) {
  if (!case_sensitive && v.is_string()) return Value::string(str_lower(v.as_string()));
  return v;
}

std::vector<Value> seq_of(Interp& in, const Value& v) { return in.iterate(v); }

// ---- filters ----------------------------------------------------------------------------------

Value f_abs(Interp&, const Value& v, CallArgs& a) {
  bind(a, {}, "abs");
  if (int_like(v)) {
    if (v.as_int() == INT64_MIN) throw Error("integer overflow");
    return Value::integer(std::llabs(v.as_int()));
  }
  if (v.is_float()) return Value::number(std::fabs(v.as_float()));
  throw Error("bad operand type for abs(): '" + v.type_name() + "'");
}

Value f_attr(Interp& in, const Value& v, CallArgs& a) {
  Bound b = bind(a, {"name"}, "attr");
  if (!b.has(0)) throw Error("attr() missing required argument 'name'");
  std::string name = sval(*b.get(0));
  if (v.is_dict() || v.is_list() || v.is_string()) {  // Python attributes only, never items
    if (auto m = builtin_method(v, name)) return *m;
    return Value::undefined("'" + v.type_name() + " object' has no attribute '" + name + "'");
  }
  return in.getattr(v, name);
}

Value f_batch(Interp& in, const Value& v, CallArgs& a) {
  Bound b = bind(a, {"linecount", "fill_with"}, "batch");
  if (!b.has(0)) throw Error("batch() missing required argument 'linecount'");
  int64_t n = to_int_arg(*b.get(0), "batch");
  if (n <= 0) throw Error("batch size must be positive");
  std::vector<Value> items = seq_of(in, v), out, tmp;
  for (auto& x : items) {
    if (static_cast<int64_t>(tmp.size()) == n) {
      out.push_back(Value::list(std::move(tmp)));
      tmp.clear();
    }
    tmp.push_back(x);
  }
  if (!tmp.empty()) {
    if (b.has(1) && !b.get(1)->is_none())
      while (static_cast<int64_t>(tmp.size()) < n) tmp.push_back(*b.get(1));
    out.push_back(Value::list(std::move(tmp)));
  }
  return Value::list(std::move(out));
}

Value f_capitalize(Interp&, const Value& v, CallArgs& a) {
  bind(a, {}, "capitalize");
  return Value::string(py_capitalize(sval(v)));
}

Value f_center(Interp& in, const Value& v, CallArgs& a) {
  Bound b = bind(a, {"width"}, "center");
  return Value::string(pad_str(in, sval(v), b.has(0) ? to_int_arg(*b.get(0), "center") : 80, 'c'));
}

Value f_length(Interp&, const Value& v, CallArgs& a) {
  bind(a, {}, "length");
  switch (v.kind()) {
    case Value::Kind::Undefined:
      return Value::integer(0);
    case Value::Kind::String:
      return Value::integer(static_cast<int64_t>(utf8_length(v.as_string())));
    case Value::Kind::List:
      return Value::integer(static_cast<int64_t>(v.items().size()));
    case Value::Kind::Dict:
      return Value::integer(static_cast<int64_t>(v.dict_data().size()));
    default:
      throw Error("object of type '" + v.type_name() + "' has no len()");
  }
}

Value f_default(Interp&, const Value& v, CallArgs& a) {
  Bound b = bind(a, {"default_value", "boolean"}, "default");
  Value dflt = b.or_(0, Value::string(""));
  bool boolean = b.has(1) && b.get(1)->truthy();
  if (v.is_undefined() || (boolean && !v.truthy())) return dflt;
  return v;
}

Value f_dictsort(Interp& in, const Value& v, CallArgs& a) {
  Bound b = bind(a, {"case_sensitive", "by", "reverse"}, "dictsort");
  bool cs = b.has(0) && b.get(0)->truthy();
  std::string by = b.has(1) ? sval(*b.get(1)) : "key";
  bool rev = b.has(2) && b.get(2)->truthy();
  int pos;
  if (by == "key") pos = 0;
  else if (by == "value") pos = 1;
  else throw Error("You can only sort by either 'key' or 'value'");
  if (!v.is_dict()) {
    if (v.is_undefined()) undefined_error(v);
    throw Error("'" + v.type_name() + "' object has no attribute 'items'");
  }
  std::vector<Value> items;
  for (const auto& [k, val] : v.dict_data().entries) items.push_back(Value::list({k, val}, true));
  std::vector<Value> keys;
  for (auto& it : items) keys.push_back(lower_if_str(it.items()[static_cast<size_t>(pos)], cs));
  std::vector<size_t> idx(items.size());
  for (size_t i = 0; i < idx.size(); ++i) idx[i] = i;
  std::stable_sort(idx.begin(), idx.end(), [&](size_t x, size_t y) {
    return rev ? value_less(keys[y], keys[x]) : value_less(keys[x], keys[y]);
  });
  std::vector<Value> out;
  for (size_t i : idx) out.push_back(items[i]);
  (void)in;
  return Value::list(std::move(out));
}

Value f_escape(Interp&, const Value& v, CallArgs& a) {
  bind(a, {}, "escape");
  return Value::string(html_escape(sval(v)));
}

Value f_first(Interp& in, const Value& v, CallArgs& a) {
  bind(a, {}, "first");
  if (v.is_string()) {
    auto cps = utf8_decode(v.as_string());
    if (cps.empty()) return Value::undefined("No first item, sequence was empty.");
    std::string c;
    utf8_append(c, cps[0]);
    return Value::string(c);
  }
  std::vector<Value> items = seq_of(in, v);
  if (items.empty()) return Value::undefined("No first item, sequence was empty.");
  return items.front();
}

Value f_last(Interp& in, const Value& v, CallArgs& a) {
  bind(a, {}, "last");
  std::vector<Value> items = seq_of(in, v);
  if (items.empty()) return Value::undefined("No last item, sequence was empty.");
  return items.back();
}

Value f_float(Interp&, const Value& v, CallArgs& a) {
  Bound b = bind(a, {"default"}, "float");
  Value dflt = b.or_(0, Value::number(0.0));
  if (v.is_undefined()) undefined_error(v);
  if (v.is_number()) return Value::number(v.as_float());
  if (v.is_string()) {
    double d;
    if (parse_py_float(v.as_string(), d)) return Value::number(d);
  }
  return dflt;
}

Value f_int(Interp&, const Value& v, CallArgs& a) {
  Bound b = bind(a, {"default", "base"}, "int");
  Value dflt = b.or_(0, Value::integer(0));
  int base = b.has(1) ? static_cast<int>(to_int_arg(*b.get(1), "int")) : 10;
  if (v.is_undefined()) undefined_error(v);
  if (int_like(v)) return Value::integer(v.as_int());
  if (v.is_float()) {
    double d = v.as_float();
    if (!std::isfinite(d) || std::fabs(d) >= 9.2e18) return dflt;
    return Value::integer(static_cast<int64_t>(d));
  }
  if (v.is_string()) {
    int64_t i;
    if (parse_py_int(v.as_string(), base, i)) return Value::integer(i);
    double d;
    if (parse_py_float(v.as_string(), d) && std::isfinite(d) && std::fabs(d) < 9.2e18)
      return Value::integer(static_cast<int64_t>(d));
  }
  return dflt;
}

Value f_format(Interp& in, const Value& v, CallArgs& a) {
  if (!a.pos.empty() && !a.kw.empty()) throw Error("can't handle positional and keyword arguments at the same time");
  if (!a.kw.empty()) {
    Value d = Value::dict();
    for (auto& [k, val] : a.kw) d.dict_data().set(k, val);
    return Value::string(percent_format(in, sval(v), d));
  }
  return Value::string(percent_format(in, sval(v), Value::list(a.pos, true)));
}

Value f_groupby(Interp& in, const Value& v, CallArgs& a) {
  Bound b = bind(a, {"attribute", "default", "case_sensitive"}, "groupby");
  if (!b.has(0)) throw Error("groupby() missing required argument 'attribute'");
  bool cs = b.has(2) && b.get(2)->truthy();
  std::vector<Value> items = seq_of(in, v);
  std::vector<Value> keys;
  for (auto& it : items) {
    Value k = attr_path(in, it, *b.get(0));
    if (k.is_undefined() && b.has(1)) k = *b.get(1);
    keys.push_back(lower_if_str(k, cs));
  }
  std::vector<size_t> idx(items.size());
  for (size_t i = 0; i < idx.size(); ++i) idx[i] = i;
  std::stable_sort(idx.begin(), idx.end(), [&](size_t x, size_t y) { return value_less(keys[x], keys[y]); });
  std::vector<Value> out;
  size_t i = 0;
  while (i < idx.size()) {
    size_t j = i;
    std::vector<Value> group;
    while (j < idx.size() && values_equal(keys[idx[j]], keys[idx[i]])) group.push_back(items[idx[j++]]);
    Value grouper = keys[idx[i]];
    if (!cs) {
      Value orig = attr_path(in, items[idx[i]], *b.get(0));
      if (orig.is_undefined() && b.has(1)) orig = *b.get(1);
      grouper = orig;
    }
    out.push_back(Value::list({grouper, Value::list(std::move(group))}, true));
    i = j;
  }
  return Value::list(std::move(out));
}

Value f_indent(Interp& in, const Value& v, CallArgs& a) {
  Bound b = bind(a, {"width", "first", "blank"}, "indent");
  std::string ind;
  if (b.has(0) && b.get(0)->is_string()) {
    ind = b.get(0)->as_string();
  } else {
    int64_t w = b.has(0) ? to_int_arg(*b.get(0), "indent") : 4;
    in.check_string(static_cast<size_t>(std::max<int64_t>(0, w)));
    ind = std::string(static_cast<size_t>(std::max<int64_t>(0, w)), ' ');
  }
  bool first = b.has(1) && b.get(1)->truthy();
  bool blank = b.has(2) && b.get(2)->truthy();
  std::string s = sval(v) + "\n";
  std::vector<std::string> lines = py_splitlines(s, false);
  std::string rv;
  if (blank) {
    for (size_t i = 0; i < lines.size(); ++i) {
      if (i) rv += "\n" + ind;
      rv += lines[i];
      in.check_string(rv.size());
    }
  } else {
    rv = lines.empty() ? "" : lines[0];
    for (size_t i = 1; i < lines.size(); ++i) {
      rv += "\n";
      if (!lines[i].empty()) rv += ind;
      rv += lines[i];
      in.check_string(rv.size());
    }
  }
  if (first) rv = ind + rv;
  return Value::string(rv);
}

Value f_items(Interp&, const Value& v, CallArgs& a) {
  bind(a, {}, "items");
  if (v.is_undefined()) return Value::list();
  if (!v.is_dict()) throw Error("Can only get item pairs from a mapping.");
  std::vector<Value> out;
  for (const auto& [k, val] : v.dict_data().entries) out.push_back(Value::list({k, val}, true));
  return Value::list(std::move(out));
}

Value f_join(Interp& in, const Value& v, CallArgs& a) {
  Bound b = bind(a, {"d", "attribute"}, "join");
  std::string sep = b.has(0) ? sval(*b.get(0)) : "";
  std::string out;
  bool first = true;
  for (auto& item : seq_of(in, v)) {
    if (!first) out += sep;
    first = false;
    out += sval(b.has(1) && !b.get(1)->is_none() ? attr_path(in, item, *b.get(1)) : item);
    in.check_string(out.size());
  }
  return Value::string(out);
}

Value f_list(Interp& in, const Value& v, CallArgs& a) {
  bind(a, {}, "list");
  return Value::list(seq_of(in, v));
}

Value f_lower(Interp&, const Value& v, CallArgs& a) {
  bind(a, {}, "lower");
  return Value::string(str_lower(sval(v)));
}

Value f_upper(Interp&, const Value& v, CallArgs& a) {
  bind(a, {}, "upper");
  return Value::string(str_upper(sval(v)));
}

Value f_map(Interp& in, const Value& v, CallArgs& a) {
  std::vector<Value> items = seq_of(in, v);
  std::vector<Value> out;
  if (a.pos.empty()) {
    Value attribute, dflt;
    bool has_attr = false, has_default = false;
    for (auto& [k, val] : a.kw) {
      if (k == "attribute") attribute = val, has_attr = true;
      else if (k == "default") dflt = val, has_default = true;
      else throw Error("Unexpected keyword argument '" + k + "'");
    }
    if (!has_attr) throw Error("map requires a filter argument");
    for (auto& it : items) {
      Value r = attr_path(in, it, attribute);
      if (r.is_undefined() && has_default) r = dflt;
      out.push_back(r);
    }
    return Value::list(std::move(out));
  }
  std::string name = sval(a.pos[0]);
  CallArgs rest;
  rest.pos.assign(a.pos.begin() + 1, a.pos.end());
  rest.kw = a.kw;
  for (auto& it : items) {
    CallArgs copy = rest;
    out.push_back(apply_filter(in, name, it, copy));
  }
  return Value::list(std::move(out));
}

Value minmax(Interp& in, const Value& v, CallArgs& a, bool want_max, const char* name) {
  Bound b = bind(a, {"case_sensitive", "attribute"}, name);
  bool cs = b.has(0) && b.get(0)->truthy();
  std::vector<Value> items = seq_of(in, v);
  if (items.empty()) return Value::undefined("No aggregated item, sequence was empty.");
  auto key = [&](const Value& x) {
    Value k = b.has(1) && !b.get(1)->is_none() ? attr_path(in, x, *b.get(1)) : x;
    return lower_if_str(k, cs);
  };
  size_t best = 0;
  Value bk = key(items[0]);
  for (size_t i = 1; i < items.size(); ++i) {
    Value k = key(items[i]);
    if (want_max ? value_less(bk, k) : value_less(k, bk)) {
      best = i;
      bk = k;
    }
  }
  return items[best];
}

Value f_max(Interp& in, const Value& v, CallArgs& a) { return minmax(in, v, a, true, "max"); }
Value f_min(Interp& in, const Value& v, CallArgs& a) { return minmax(in, v, a, false, "min"); }

Value f_pprint(Interp&, const Value& v, CallArgs& a) {
  bind(a, {}, "pprint");
  return Value::string(to_repr(v));
}

Value select_impl(Interp& in, const Value& v, CallArgs& a, bool attr, bool keep_if) {
  std::vector<Value> items = seq_of(in, v);
  size_t off = 0;
  Value attribute;
  if (attr) {
    if (a.pos.empty()) throw Error("Missing parameter for attribute name");
    attribute = a.pos[0];
    off = 1;
  }
  std::vector<Value> out;
  for (auto& it : items) {
    Value x = attr ? attr_path(in, it, attribute) : it;
    bool r;
    if (a.pos.size() <= off) {
      r = x.truthy();
    } else {
      CallArgs targs;
      targs.pos.assign(a.pos.begin() + static_cast<long>(off) + 1, a.pos.end());
      targs.kw = a.kw;
      r = apply_test(in, sval(a.pos[off]), x, targs);
    }
    if (r == keep_if) out.push_back(it);
  }
  return Value::list(std::move(out));
}

Value f_select(Interp& in, const Value& v, CallArgs& a) { return select_impl(in, v, a, false, true); }
Value f_reject(Interp& in, const Value& v, CallArgs& a) { return select_impl(in, v, a, false, false); }
Value f_selectattr(Interp& in, const Value& v, CallArgs& a) { return select_impl(in, v, a, true, true); }
Value f_rejectattr(Interp& in, const Value& v, CallArgs& a) { return select_impl(in, v, a, true, false); }

Value f_replace(Interp& in, const Value& v, CallArgs& a) {
  Bound b = bind(a, {"old", "new", "count"}, "replace");
  if (!b.has(0) || !b.has(1)) throw Error("replace() missing required arguments");
  int64_t count = b.has(2) && !b.get(2)->is_none() ? to_int_arg(*b.get(2), "replace") : -1;
  return Value::string(py_replace(in, sval(v), sval(*b.get(0)), sval(*b.get(1)), count));
}

Value f_reverse(Interp& in, const Value& v, CallArgs& a) {
  bind(a, {}, "reverse");
  if (v.is_string()) {
    auto cps = utf8_decode(v.as_string());
    std::reverse(cps.begin(), cps.end());
    return Value::string(utf8_encode(cps));
  }
  std::vector<Value> items = seq_of(in, v);
  std::reverse(items.begin(), items.end());
  return Value::list(std::move(items));
}

Value f_round(Interp&, const Value& v, CallArgs& a) {
  Bound b = bind(a, {"precision", "method"}, "round");
  int64_t prec = b.has(0) ? to_int_arg(*b.get(0), "round") : 0;
  std::string method = b.has(1) ? sval(*b.get(1)) : "common";
  if (method != "common" && method != "ceil" && method != "floor")
    throw Error("method must be 'common', 'ceil' or 'floor'");
  if (!v.is_number()) throw Error("type " + v.type_name() + " doesn't define __round__ method");
  if (method == "common") {
    if (int_like(v)) {
      if (prec >= 0) return Value::integer(v.as_int());
      if (prec < -18) return Value::integer(0);
      int64_t p = 1;
      for (int64_t i = 0; i < -prec; ++i) p *= 10;
      int64_t x = v.as_int();
      int64_t q = x / p, r = x % p;
      if (r < 0) r += p, q -= 1;
      if (2 * r > p || (2 * r == p && (q % 2 != 0))) q += 1;
      return Value::integer(q * p);
    }
    return Value::number(py_round(v.as_float(), prec));
  }
  double p = std::pow(10.0, static_cast<double>(prec));
  double x = v.as_float() * p;
  double r = method == "ceil" ? std::ceil(x) : std::floor(x);
  return Value::number(r / p);
}

Value f_safe(Interp&, const Value& v, CallArgs& a) {
  bind(a, {}, "safe");
  return v;
}

Value f_slice(Interp& in, const Value& v, CallArgs& a) {
  Bound b = bind(a, {"slices", "fill_with"}, "slice");
  if (!b.has(0)) throw Error("slice() missing required argument 'slices'");
  int64_t slices = to_int_arg(*b.get(0), "slice");
  if (slices <= 0) throw Error("slices must be positive");
  if (slices > 100000) throw Error("too many slices");
  std::vector<Value> seq = seq_of(in, v);
  int64_t length = static_cast<int64_t>(seq.size());
  int64_t per = length / slices, extra = length % slices, offset = 0;
  std::vector<Value> out;
  for (int64_t n = 0; n < slices; ++n) {
    int64_t start = offset + n * per;
    if (n < extra) ++offset;
    int64_t end = offset + (n + 1) * per;
    std::vector<Value> tmp(seq.begin() + start, seq.begin() + end);
    if (b.has(1) && !b.get(1)->is_none() && n >= extra) tmp.push_back(*b.get(1));
    out.push_back(Value::list(std::move(tmp)));
  }
  return Value::list(std::move(out));
}

Value f_sort(Interp& in, const Value& v, CallArgs& a) {
  Bound b = bind(a, {"reverse", "case_sensitive", "attribute"}, "sort");
  bool rev = b.has(0) && b.get(0)->truthy();
  bool cs = b.has(1) && b.get(1)->truthy();
  std::vector<Value> items = seq_of(in, v);
  std::vector<Value> keys;
  for (auto& it : items) {
    Value k = b.has(2) && !b.get(2)->is_none() ? attr_path(in, it, *b.get(2)) : it;
    keys.push_back(lower_if_str(k, cs));
  }
  std::vector<size_t> idx(items.size());
  for (size_t i = 0; i < idx.size(); ++i) idx[i] = i;
  std::stable_sort(idx.begin(), idx.end(), [&](size_t x, size_t y) {
    return rev ? value_less(keys[y], keys[x]) : value_less(keys[x], keys[y]);
  });
  std::vector<Value> out;
  for (size_t i : idx) out.push_back(items[i]);
  return Value::list(std::move(out));
}

Value f_string(Interp&, const Value& v, CallArgs& a) {
  bind(a, {}, "string");
  return Value::string(sval(v));
}

Value f_striptags(Interp&, const Value& v, CallArgs& a) {
  bind(a, {}, "striptags");
  std::string s = sval(v), out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s.compare(i, 4, "<!--") == 0) {
      size_t e = s.find("-->", i + 4);
      if (e == std::string::npos) break;
      i = e + 2;
    } else if (s[i] == '<') {
      size_t e = s.find('>', i + 1);
      if (e == std::string::npos) {
        out += s.substr(i);
        break;
      }
      i = e;
    } else {
      out += s[i];
    }
  }
  std::vector<std::string> words = py_split(out, nullptr, -1, false);
  std::string joined;
  for (size_t i = 0; i < words.size(); ++i) joined += (i ? " " : "") + words[i];
  static const std::pair<const char*, const char*> ents[] = {{"&lt;", "<"},   {"&gt;", ">"},  {"&quot;", "\""},
                                                             {"&#34;", "\""}, {"&#39;", "'"}, {"&amp;", "&"}};
  for (auto& [from, to] : ents) {
    std::string r;
    size_t p = 0;
    while (true) {
      size_t f = joined.find(from, p);
      if (f == std::string::npos) break;
      r += joined.substr(p, f - p) + to;
      p = f + std::char_traits<char>::length(from);
    }
    joined = r + joined.substr(p);
  }
  return Value::string(joined);
}

Value f_sum(Interp& in, const Value& v, CallArgs& a) {
  Bound b = bind(a, {"attribute", "start"}, "sum");
  Value total = b.or_(1, Value::integer(0));
  for (auto& it : seq_of(in, v)) {
    Value x = b.has(0) && !b.get(0)->is_none() ? attr_path(in, it, *b.get(0)) : it;
    if (total.is_number() && x.is_number()) {
      if (int_like(total) && int_like(x)) {
        int64_t r;
        if (__builtin_add_overflow(total.as_int(), x.as_int(), &r)) throw Error("integer overflow");
        total = Value::integer(r);
      } else {
        total = Value::number(total.as_float() + x.as_float());
      }
    } else if (total.is_list() && x.is_list()) {
      std::vector<Value> items = total.items();
      items.insert(items.end(), x.items().begin(), x.items().end());
      total = Value::list(std::move(items));
    } else {
      throw Error("unsupported operand type(s) for +: '" + total.type_name() + "' and '" + x.type_name() + "'");
    }
  }
  return total;
}

Value f_title(Interp&, const Value& v, CallArgs& a) {
  bind(a, {}, "title");
  return Value::string(jinja_title(sval(v)));
}

std::string ascii_json(const std::string& s) {  // ensure_ascii=True post-processing of a JSON text
  std::string out;
  for (uint32_t cp : utf8_decode(s)) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
      continue;
    }
    char buf[16];
    if (cp >= 0x10000) {
      uint32_t v = cp - 0x10000;
      std::snprintf(buf, sizeof buf, "\\u%04x\\u%04x", 0xD800 + (v >> 10), 0xDC00 + (v & 0x3FF));
    } else {
      std::snprintf(buf, sizeof buf, "\\u%04x", cp);
    }
    out += buf;
  }
  return out;
}

Value f_tojson(Interp& in, const Value& v, CallArgs& a) {
  // transformers: tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False)
  Bound b = bind(a, {"ensure_ascii", "indent", "separators", "sort_keys"}, "tojson");
  bool ascii = b.has(0) && b.get(0)->truthy();
  int indent = -1;
  if (b.has(1) && !b.get(1)->is_none()) {
    int64_t i = to_int_arg(*b.get(1), "tojson indent");
    indent = static_cast<int>(std::clamp<int64_t>(i, 0, 64));
  }
  std::string item_sep, key_sep;
  if (b.has(2) && !b.get(2)->is_none()) {
    std::vector<Value> seps = in.iterate(*b.get(2));
    if (seps.size() != 2) throw Error("separators must be an (item_separator, key_separator) pair");
    item_sep = sval(seps[0]);
    key_sep = sval(seps[1]);
    if (item_sep.empty()) item_sep = std::string(1, '\0');
    if (key_sep.empty()) key_sep = std::string(1, '\0');
  }
  bool sort = b.has(3) && b.get(3)->truthy();
  std::string s = to_json(v, indent, sort, item_sep, key_sep);
  if (b.has(2) && !b.get(2)->is_none()) s.erase(std::remove(s.begin(), s.end(), '\0'), s.end());
  in.check_string(s.size());
  return Value::string(ascii ? ascii_json(s) : s);
}

Value f_trim(Interp&, const Value& v, CallArgs& a) {
  Bound b = bind(a, {"chars"}, "trim");
  if (b.has(0) && !b.get(0)->is_none()) {
    std::string chars = sval(*b.get(0));
    return Value::string(str_strip(sval(v), &chars, true, true));
  }
  return Value::string(str_strip(sval(v), nullptr, true, true));
}

Value f_truncate(Interp&, const Value& v, CallArgs& a) {
  Bound b = bind(a, {"length", "killwords", "end", "leeway"}, "truncate");
  int64_t length = b.has(0) ? to_int_arg(*b.get(0), "truncate") : 255;
  bool killwords = b.has(1) && b.get(1)->truthy();
  std::string end = b.has(2) ? sval(*b.get(2)) : "...";
  int64_t leeway = b.has(3) && !b.get(3)->is_none() ? to_int_arg(*b.get(3), "truncate") : 5;
  auto cps = utf8_decode(sval(v));
  int64_t endlen = static_cast<int64_t>(utf8_length(end));
  if (length < endlen) throw Error("expected length >= " + std::to_string(endlen) + ", got " + std::to_string(length));
  if (leeway < 0) throw Error("expected leeway >= 0, got " + std::to_string(leeway));
  if (static_cast<int64_t>(cps.size()) <= length + leeway) return Value::string(sval(v));
  std::string head = utf8_encode(std::vector<uint32_t>(cps.begin(), cps.begin() + (length - endlen)));
  if (killwords) return Value::string(head + end);
  size_t sp = head.rfind(' ');
  if (sp != std::string::npos) head = head.substr(0, sp);
  return Value::string(head + end);
}

Value f_unique(Interp& in, const Value& v, CallArgs& a) {
  Bound b = bind(a, {"case_sensitive", "attribute"}, "unique");
  bool cs = b.has(0) && b.get(0)->truthy();
  std::vector<Value> out;
  std::vector<std::string> seen;
  std::unordered_map<std::string, bool> seen_set;
  for (auto& it : seq_of(in, v)) {
    Value k = b.has(1) && !b.get(1)->is_none() ? attr_path(in, it, *b.get(1)) : it;
    std::string h = hash_key(lower_if_str(k, cs));
    if (seen_set.emplace(h, true).second) out.push_back(it);
  }
  return Value::list(std::move(out));
}

std::string url_quote(const std::string& s, bool for_qs) {
  std::string out;
  for (unsigned char c : s) {
    if (isalnum(c) || c == '_' || c == '.' || c == '-' || c == '~' || (!for_qs && c == '/')) {
      out += static_cast<char>(c);
    } else if (for_qs && c == ' ') {
      out += '+';
    } else {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      out += buf;
    }
  }
  return out;
}

Value f_urlencode(Interp& in, const Value& v, CallArgs& a) {
  bind(a, {}, "urlencode");
  if (v.is_string()) return Value::string(url_quote(v.as_string(), false));
  std::vector<std::pair<Value, Value>> pairs;
  if (v.is_dict()) {
    pairs = v.dict_data().entries;
  } else if (v.is_list()) {
    for (auto& p : v.items()) {
      std::vector<Value> kv = in.iterate(p);
      if (kv.size() != 2) throw Error("urlencode expects pairs");
      pairs.emplace_back(kv[0], kv[1]);
    }
  } else {
    return Value::string(url_quote(sval(v), false));
  }
  std::string out;
  for (size_t i = 0; i < pairs.size(); ++i) {
    if (i) out += "&";
    out += url_quote(sval(pairs[i].first), true) + "=" + url_quote(sval(pairs[i].second), true);
  }
  return Value::string(out);
}

Value f_wordcount(Interp&, const Value& v, CallArgs& a) {
  bind(a, {}, "wordcount");
  int64_t n = 0;
  bool in_word = false;
  for (uint32_t c : utf8_decode(sval(v))) {
    bool w = py_isalpha(c) || py_isdigit(c) || c == '_' || (c >= 0x80 && !py_isspace(c));
    if (w && !in_word) ++n;
    in_word = w;
  }
  return Value::integer(n);
}

Value f_unsupported(Interp&, const Value&, CallArgs&) {
  throw Error("this Jinja2 filter is not supported by gemma4's template engine");
}

const std::unordered_map<std::string, FilterFn>& filter_table() {
  static const std::unordered_map<std::string, FilterFn> t = {
      {"abs", f_abs},
      {"attr", f_attr},
      {"batch", f_batch},
      {"capitalize", f_capitalize},
      {"center", f_center},
      {"count", f_length},
      {"d", f_default},
      {"default", f_default},
      {"dictsort", f_dictsort},
      {"e", f_escape},
      {"escape", f_escape},
      {"forceescape", f_escape},
      {"first", f_first},
      {"float", f_float},
      {"format", f_format},
      {"groupby", f_groupby},
      {"indent", f_indent},
      {"int", f_int},
      {"items", f_items},
      {"join", f_join},
      {"last", f_last},
      {"length", f_length},
      {"list", f_list},
      {"lower", f_lower},
      {"map", f_map},
      {"max", f_max},
      {"min", f_min},
      {"pprint", f_pprint},
      {"reject", f_reject},
      {"rejectattr", f_rejectattr},
      {"replace", f_replace},
      {"reverse", f_reverse},
      {"round", f_round},
      {"safe", f_safe},
      {"select", f_select},
      {"selectattr", f_selectattr},
      {"slice", f_slice},
      {"sort", f_sort},
      {"string", f_string},
      {"striptags", f_striptags},
      {"sum", f_sum},
      {"title", f_title},
      {"tojson", f_tojson},
      {"trim", f_trim},
      {"truncate", f_truncate},
      {"unique", f_unique},
      {"upper", f_upper},
      {"urlencode", f_urlencode},
      {"wordcount", f_wordcount},
      {"filesizeformat", f_unsupported},
      {"random", f_unsupported},
      {"urlize", f_unsupported},
      {"wordwrap", f_unsupported},
      {"xmlattr", f_unsupported},
  };
  return t;
}

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

// ---- Python format mini-language (str.format) ---------------------------------------------------

struct Spec {
  std::string fill = " ";
  char align = 0, sign = '-', type = 0, grouping = 0;
  bool alt = false, zero = false;
  int64_t width = -1, precision = -1;
};

Spec parse_spec(const std::string& spec) {
  Spec s;
  auto cps = utf8_decode(spec);
  size_t i = 0;
  auto is_align = [](uint32_t c) { return c == '<' || c == '>' || c == '^' || c == '='; };
  if (cps.size() >= 2 && is_align(cps[1])) {
    s.fill.clear();
    utf8_append(s.fill, cps[0]);
    s.align = static_cast<char>(cps[1]);
    i = 2;
  } else if (!cps.empty() && is_align(cps[0])) {
    s.align = static_cast<char>(cps[0]);
    i = 1;
  }
  if (i < cps.size() && (cps[i] == '+' || cps[i] == '-' || cps[i] == ' ')) s.sign = static_cast<char>(cps[i++]);
  if (i < cps.size() && cps[i] == '#') s.alt = true, ++i;
  if (i < cps.size() && cps[i] == '0') s.zero = true, ++i;
  int64_t w = -1;
  while (i < cps.size() && cps[i] >= '0' && cps[i] <= '9') {
    w = (w < 0 ? 0 : w) * 10 + (cps[i++] - '0');
    if (w > 1000000) throw Error("format width too large");
  }
  s.width = w;
  if (i < cps.size() && (cps[i] == ',' || cps[i] == '_')) s.grouping = static_cast<char>(cps[i++]);
  if (i < cps.size() && cps[i] == '.') {
    ++i;
    int64_t p = 0;
    bool any = false;
    while (i < cps.size() && cps[i] >= '0' && cps[i] <= '9') {
      p = p * 10 + (cps[i++] - '0');
      any = true;
      if (p > 1000) throw Error("format precision too large");
    }
    if (!any) throw Error("Format specifier missing precision");
    s.precision = p;
  }
  if (i < cps.size()) s.type = static_cast<char>(cps[i++]);
  if (i != cps.size()) throw Error("Invalid format specifier '" + spec + "'");
  return s;
}

std::string group_digits(const std::string& digits, char sep) {
  std::string out;
  int n = static_cast<int>(digits.size());
  for (int i = 0; i < n; ++i) {
    out += digits[static_cast<size_t>(i)];
    int rem = n - 1 - i;
    if (rem > 0 && rem % 3 == 0) out += sep;
  }
  return out;
}

std::string format_value(Interp& in, const Value& v, const std::string& spec_str) {
  if (spec_str.empty()) return sval(v);
  Spec s = parse_spec(spec_str);
  std::string body, sign;
  char default_align = '<';
  if (v.is_string() || (!v.is_number())) {
    if (!v.is_string()) throw Error("unsupported format string passed to " + v.type_name() + ".__format__");
    if (s.type && s.type != 's') throw Error(std::string("Unknown format code '") + s.type + "' for object of type 'str'");
    body = v.as_string();
    if (s.precision >= 0) {
      auto cps = utf8_decode(body);
      if (static_cast<int64_t>(cps.size()) > s.precision) cps.resize(static_cast<size_t>(s.precision));
      body = utf8_encode(cps);
    }
  } else {
    default_align = '>';
    char t = s.type;
    bool as_int = (t == 'd' || t == 'b' || t == 'o' || t == 'x' || t == 'X' || t == 'c' || (t == 'n' && int_like(v)) ||
                   (t == 0 && int_like(v)));
    if (as_int) {
      if (!int_like(v)) throw Error(std::string("Unknown format code '") + t + "' for object of type 'float'");
      int64_t x = v.as_int();
      uint64_t mag = x < 0 ? static_cast<uint64_t>(0) - static_cast<uint64_t>(x) : static_cast<uint64_t>(x);
      if (x < 0) sign = "-";
      else if (s.sign == '+') sign = "+";
      else if (s.sign == ' ') sign = " ";
      if (t == 'c') {
        sign.clear();
        utf8_append(body, static_cast<uint32_t>(x));
      } else {
        int base = t == 'b' ? 2 : t == 'o' ? 8 : (t == 'x' || t == 'X') ? 16 : 10;
        std::string digits;
        do {
          int d = static_cast<int>(mag % static_cast<uint64_t>(base));
          digits += static_cast<char>(d < 10 ? '0' + d : (t == 'X' ? 'A' : 'a') + d - 10);
          mag /= static_cast<uint64_t>(base);
        } while (mag);
        std::reverse(digits.begin(), digits.end());
        if (s.grouping) digits = group_digits(digits, s.grouping);
        if (s.alt && base != 10) sign += base == 2 ? "0b" : base == 8 ? "0o" : (t == 'X' ? "0X" : "0x");
        body = digits;
      }
    } else {
      double d = v.as_float();
      if (d < 0 || (d == 0 && std::signbit(d))) sign = "-";
      else if (s.sign == '+') sign = "+";
      else if (s.sign == ' ') sign = " ";
      double m = std::fabs(d);
      char buf[1200];
      if (t == 0 && s.precision < 0) {
        body = python_float_repr(m);
      } else if (std::isinf(m) || std::isnan(m)) {
        body = std::isnan(m) ? "nan" : "inf";
        if (t == 'E' || t == 'F' || t == 'G') body = str_upper(body);
      } else {
        int p = static_cast<int>(s.precision < 0 ? 6 : s.precision);
        switch (t) {
          case 'e':
          case 'E':
          case 'f':
          case 'F':
            std::snprintf(buf, sizeof buf, (std::string("%.*") + t).c_str(), p, m);
            body = buf;
            break;
          case '%':
            std::snprintf(buf, sizeof buf, "%.*f", p, m * 100);
            body = std::string(buf) + "%";
            break;
          case 'g':
          case 'G':
          case 'n':
            std::snprintf(buf, sizeof buf, t == 'G' ? "%.*G" : "%.*g", p == 0 ? 1 : p, m);
            body = buf;
            break;
          case 0: {  // precision without type: like 'g' but keeps a ".0"
            std::snprintf(buf, sizeof buf, "%.*g", p == 0 ? 1 : p, m);
            body = buf;
            if (body.find_first_of(".eninf") == std::string::npos) body += ".0";
            break;
          }
          default:
            throw Error(std::string("Unknown format code '") + t + "' for object of type 'float'");
        }
      }
      if (s.grouping) {
        size_t dot = body.find_first_of(".e%");
        std::string ip = body.substr(0, dot), rest = dot == std::string::npos ? "" : body.substr(dot);
        body = group_digits(ip, s.grouping) + rest;
      }
    }
  }
  char align = s.align ? s.align : (s.zero ? '=' : default_align);
  std::string fill = s.align ? s.fill : (s.zero ? "0" : " ");
  int64_t len = static_cast<int64_t>(utf8_length(sign + body));
  if (s.width <= len) return sign + body;
  in.check_string(static_cast<size_t>(s.width) * fill.size());
  if (align == '=') {
    std::string pad;
    for (int64_t i = 0; i < s.width - len; ++i) pad += fill;
    return sign + pad + body;
  }
  return pad_str(in, sign + body, s.width, align, fill);
}

std::string str_format(Interp& in, const std::string& fmt, CallArgs& a) {
  std::string out;
  size_t auto_idx = 0;
  for (size_t i = 0; i < fmt.size(); ++i) {
    char c = fmt[i];
    if (c == '{') {
      if (i + 1 < fmt.size() && fmt[i + 1] == '{') {
        out += '{';
        ++i;
        continue;
      }
      size_t depth = 1, j = i + 1;
      while (j < fmt.size() && depth) {
        if (fmt[j] == '{') ++depth;
        else if (fmt[j] == '}') --depth;
        if (depth) ++j;
      }
      if (j >= fmt.size()) throw Error("Single '{' encountered in format string");
      std::string field = fmt.substr(i + 1, j - i - 1);
      i = j;
      std::string spec, conv;
      size_t colon = field.find(':');
      if (colon != std::string::npos) {
        spec = field.substr(colon + 1);
        field = field.substr(0, colon);
      }
      size_t bang = field.find('!');
      if (bang != std::string::npos) {
        conv = field.substr(bang + 1);
        field = field.substr(0, bang);
      }
      size_t k = 0;
      while (k < field.size() && field[k] != '.' && field[k] != '[') ++k;
      std::string name = field.substr(0, k);
      Value v;
      if (name.empty()) {
        if (auto_idx >= a.pos.size()) throw Error("Replacement index " + std::to_string(auto_idx) + " out of range");
        v = a.pos[auto_idx++];
      } else if (std::all_of(name.begin(), name.end(), [](char ch) { return ch >= '0' && ch <= '9'; })) {
        size_t idx = static_cast<size_t>(std::strtoull(name.c_str(), nullptr, 10));
        if (idx >= a.pos.size()) throw Error("Replacement index " + name + " out of range");
        v = a.pos[idx];
      } else {
        bool found = false;
        for (auto& [kk, vv] : a.kw)
          if (kk == name) v = vv, found = true;
        if (!found) throw Error("KeyError: '" + name + "'");
      }
      while (k < field.size()) {
        if (field[k] == '.') {
          size_t e = k + 1;
          while (e < field.size() && field[e] != '.' && field[e] != '[') ++e;
          v = in.getattr(v, field.substr(k + 1, e - k - 1));
          k = e;
        } else {
          size_t e = field.find(']', k);
          if (e == std::string::npos) throw Error("Missing ']' in format string");
          std::string key = field.substr(k + 1, e - k - 1);
          bool digits = !key.empty() && std::all_of(key.begin(), key.end(), [](char ch) { return ch >= '0' && ch <= '9'; });
          v = in.getitem(v, digits ? Value::integer(std::strtoll(key.c_str(), nullptr, 10)) : Value::string(key));
          k = e + 1;
        }
      }
      if (conv == "r" || conv == "a") v = Value::string(to_repr(v));
      else if (conv == "s") v = Value::string(sval(v));
      else if (!conv.empty()) throw Error("Unknown conversion specifier " + conv);
      if (spec.find('{') != std::string::npos) {
        CallArgs copy = a;
        spec = str_format(in, spec, copy);
      }
      out += format_value(in, v, spec);
      in.check_string(out.size());
    } else if (c == '}') {
      if (i + 1 < fmt.size() && fmt[i + 1] == '}') {
        out += '}';
        ++i;
        continue;
      }
      throw Error("Single '}' encountered in format string");
    } else {
      out += c;
    }
  }
  return out;
}

// ---- methods ------------------------------------------------------------------------------------

int64_t find_cp(const std::string& s, const std::string& sub, bool reverse) {
  size_t f = reverse ? s.rfind(sub) : s.find(sub);
  if (f == std::string::npos) return -1;
  return static_cast<int64_t>(utf8_length(s.substr(0, f)));
}

bool starts_ends(const std::string& s, const Value& arg, bool ends) {
  auto one = [&](const std::string& p) {
    if (p.size() > s.size()) return false;
    return ends ? s.compare(s.size() - p.size(), p.size(), p) == 0 : s.compare(0, p.size(), p) == 0;
  };
  if (arg.is_string()) return one(arg.as_string());
  if (arg.is_tuple()) {
    for (auto& x : arg.items()) {
      if (!x.is_string()) throw Error("tuple for startswith must only contain str");
      if (one(x.as_string())) return true;
    }
    return false;
  }
  throw Error(std::string(ends ? "endswith" : "startswith") + " first arg must be str or a tuple of str, not " +
              arg.type_name());
}

Value string_method(Interp& in, const std::string& s, const std::string& name, CallArgs& a) {
  auto chars_arg = [&](const char* fname) -> std::optional<std::string> {
    Bound b = bind(a, {"chars"}, fname);
    if (b.has(0) && !b.get(0)->is_none()) return sval(*b.get(0));
    return std::nullopt;
  };
  if (name == "strip" || name == "lstrip" || name == "rstrip") {
    auto chars = chars_arg(name.c_str());
    return Value::string(str_strip(s, chars ? &*chars : nullptr, name != "rstrip", name != "lstrip"));
  }
  if (name == "upper") return bind(a, {}, name), Value::string(str_upper(s));
  if (name == "lower" || name == "casefold") return bind(a, {}, name), Value::string(str_lower(s));
  if (name == "title") return bind(a, {}, name), Value::string(py_title(s));
  if (name == "capitalize") return bind(a, {}, name), Value::string(py_capitalize(s));
  if (name == "swapcase") {
    bind(a, {}, name);
    std::string out;
    for (uint32_t c : utf8_decode(s)) utf8_append(out, py_lower(c) != c ? py_lower(c) : py_upper(c));
    return Value::string(out);
  }
  if (name == "split" || name == "rsplit") {
    Bound b = bind(a, {"sep", "maxsplit"}, name);
    int64_t maxsplit = b.has(1) ? to_int_arg(*b.get(1), name) : -1;
    return str_list(py_split(s, b.get(0), maxsplit, name == "rsplit"));
  }
  if (name == "splitlines") {
    Bound b = bind(a, {"keepends"}, name);
    return str_list(py_splitlines(s, b.has(0) && b.get(0)->truthy()));
  }
  if (name == "startswith" || name == "endswith") {
    Bound b = bind(a, {"prefix", "start", "end"}, name);
    if (!b.has(0)) throw Error(name + "() takes at least 1 argument (0 given)");
    std::string sub = s;
    if (b.has(1) || b.has(2)) {
      auto cps = utf8_decode(s);
      int64_t n = static_cast<int64_t>(cps.size());
      auto norm = [&](const Value* v, int64_t d) {
        if (!v || v->is_none()) return d;
        int64_t x = to_int_arg(*v, name);
        if (x < 0) x = std::max<int64_t>(0, x + n);
        return std::min(x, n);
      };
      int64_t st = norm(b.get(1), 0), en = norm(b.get(2), n);
      if (st > en) return Value::boolean(false);
      sub = utf8_encode(std::vector<uint32_t>(cps.begin() + st, cps.begin() + en));
    }
    return Value::boolean(starts_ends(sub, *b.get(0), name == "endswith"));
  }
  if (name == "replace") {
    Bound b = bind(a, {"old", "new", "count"}, name);
    if (!b.has(0) || !b.has(1)) throw Error("replace expected at least 2 arguments");
    if (!b.get(0)->is_string() || !b.get(1)->is_string())
      throw Error("replace() argument must be str");
    int64_t count = b.has(2) ? to_int_arg(*b.get(2), name) : -1;
    return Value::string(py_replace(in, s, b.get(0)->as_string(), b.get(1)->as_string(), count));
  }
  if (name == "find" || name == "rfind" || name == "index" || name == "rindex" || name == "count") {
    Bound b = bind(a, {"sub"}, name);
    if (!b.has(0) || !b.get(0)->is_string()) throw Error(name + "() argument must be str");
    const std::string& sub = b.get(0)->as_string();
    if (name == "count") {
      if (sub.empty()) return Value::integer(static_cast<int64_t>(utf8_length(s)) + 1);
      int64_t n = 0;
      for (size_t p = s.find(sub); p != std::string::npos; p = s.find(sub, p + sub.size())) ++n;
      return Value::integer(n);
    }
    int64_t r = find_cp(s, sub, name[0] == 'r');
    if (r < 0 && (name == "index" || name == "rindex")) throw Error("substring not found");
    return Value::integer(r);
  }
  if (name == "join") {
    Bound b = bind(a, {"iterable"}, name);
    if (!b.has(0)) throw Error("join() takes exactly one argument");
    std::string out;
    bool first = true;
    for (auto& x : in.iterate(*b.get(0))) {
      if (!x.is_string()) throw Error("sequence item: expected str instance, " + x.type_name() + " found");
      if (!first) out += s;
      first = false;
      out += x.as_string();
      in.check_string(out.size());
    }
    return Value::string(out);
  }
  if (name == "format") return Value::string(str_format(in, s, a));
  if (name == "center" || name == "ljust" || name == "rjust") {
    Bound b = bind(a, {"width", "fillchar"}, name);
    if (!b.has(0)) throw Error(name + "() takes at least 1 argument");
    std::string fill = b.has(1) ? sval(*b.get(1)) : " ";
    if (utf8_length(fill) != 1) throw Error("The fill character must be exactly one character long");
    return Value::string(pad_str(in, s, to_int_arg(*b.get(0), name), name == "center" ? 'c' : name == "ljust" ? '<' : '>', fill));
  }
  if (name == "zfill") {
    Bound b = bind(a, {"width"}, name);
    if (!b.has(0)) throw Error("zfill() takes exactly one argument");
    int64_t w = to_int_arg(*b.get(0), name);
    int64_t len = static_cast<int64_t>(utf8_length(s));
    if (w <= len) return Value::string(s);
    in.check_string(static_cast<size_t>(w));
    std::string zeros(static_cast<size_t>(w - len), '0');
    if (!s.empty() && (s[0] == '+' || s[0] == '-')) return Value::string(s.substr(0, 1) + zeros + s.substr(1));
    return Value::string(zeros + s);
  }
  if (name == "removeprefix" || name == "removesuffix") {
    Bound b = bind(a, {"fix"}, name);
    if (!b.has(0) || !b.get(0)->is_string()) throw Error(name + "() argument must be str");
    const std::string& p = b.get(0)->as_string();
    if (name == "removeprefix" && s.compare(0, p.size(), p) == 0 && p.size() <= s.size())
      return Value::string(s.substr(p.size()));
    if (name == "removesuffix" && !p.empty() && p.size() <= s.size() && s.compare(s.size() - p.size(), p.size(), p) == 0)
      return Value::string(s.substr(0, s.size() - p.size()));
    return Value::string(s);
  }
  if (name == "partition" || name == "rpartition") {
    Bound b = bind(a, {"sep"}, name);
    if (!b.has(0) || !b.get(0)->is_string()) throw Error(name + "() argument must be str");
    const std::string& sep = b.get(0)->as_string();
    if (sep.empty()) throw Error("empty separator");
    size_t f = name == "partition" ? s.find(sep) : s.rfind(sep);
    if (f == std::string::npos)
      return name == "partition" ? Value::list({Value::string(s), Value::string(""), Value::string("")}, true)
                                 : Value::list({Value::string(""), Value::string(""), Value::string(s)}, true);
    return Value::list({Value::string(s.substr(0, f)), Value::string(sep), Value::string(s.substr(f + sep.size()))}, true);
  }
  auto all_of = [&](auto pred) {
    auto cps = utf8_decode(s);
    if (cps.empty()) return Value::boolean(false);
    for (uint32_t c : cps)
      if (!pred(c)) return Value::boolean(false);
    return Value::boolean(true);
  };
  if (name == "isdigit" || name == "isdecimal" || name == "isnumeric")
    return bind(a, {}, name), all_of([](uint32_t c) { return py_isdigit(c); });
  if (name == "isalpha") return bind(a, {}, name), all_of([](uint32_t c) { return py_isalpha(c); });
  if (name == "isalnum")
    return bind(a, {}, name), all_of([](uint32_t c) { return py_isalpha(c) || py_isdigit(c); });
  if (name == "isspace") return bind(a, {}, name), all_of([](uint32_t c) { return py_isspace(c); });
  if (name == "islower" || name == "isupper") {
    CallArgs none;
    return Value::boolean(name == "islower" ? t_lower(in, Value::string(s), none) : t_upper(in, Value::string(s), none));
  }
  throw Error("'str' object has no attribute '" + name + "'");
}

const char* const kStrMethods[] = {
    "strip",     "lstrip",     "rstrip",     "upper",        "lower",        "casefold", "title",   "capitalize",
    "swapcase",  "split",      "rsplit",     "splitlines",   "startswith",   "endswith", "replace", "find",
    "rfind",     "index",      "rindex",     "count",        "join",         "format",   "center",  "ljust",
    "rjust",     "zfill",      "removeprefix", "removesuffix", "partition",  "rpartition", "isdigit", "isdecimal",
    "isnumeric", "isalpha",    "isalnum",    "isspace",      "islower",      "isupper"};

Value dict_method(const Value& d, const std::string& name, CallArgs& a) {
  if (name == "get") {
    Bound b = bind(a, {"key", "default"}, "get");
    if (!b.has(0)) throw Error("get expected at least 1 argument, got 0");
    if (const Value* v = d.dict_data().find(*b.get(0))) return *v;
    return b.or_(1, Value::none());
  }
  if (name == "items") {
    bind(a, {}, name);
    std::vector<Value> out;
    for (const auto& [k, v] : d.dict_data().entries) out.push_back(Value::list({k, v}, true));
    return Value::list(std::move(out));
  }
  if (name == "keys" || name == "values") {
    bind(a, {}, name);
    std::vector<Value> out;
    for (const auto& [k, v] : d.dict_data().entries) out.push_back(name == "keys" ? k : v);
    return Value::list(std::move(out));
  }
  if (name == "copy") {
    bind(a, {}, name);
    return Value::dict(std::make_shared<DictData>(d.dict_data()));
  }
  throw Error("access to attribute '" + name + "' of 'dict' object is unsafe.");
}

Value list_method(const Value& l, const std::string& name, CallArgs& a) {
  if (name == "index" || name == "count") {
    Bound b = bind(a, {"value"}, name);
    if (!b.has(0)) throw Error(name + "() takes exactly one argument (0 given)");
    int64_t n = 0;
    const auto& items = l.items();
    for (size_t i = 0; i < items.size(); ++i) {
      if (values_equal(items[i], *b.get(0))) {
        if (name == "index") return Value::integer(static_cast<int64_t>(i));
        ++n;
      }
    }
    if (name == "index") throw Error("value is not in list");
    return Value::integer(n);
  }
  if (name == "copy") {
    bind(a, {}, name);
    return Value::list(l.items(), l.is_tuple());
  }
  throw Error("access to attribute '" + name + "' of '" + l.type_name() + "' object is unsafe.");
}

// ---- globals ------------------------------------------------------------------------------------

class Cycler : public Object {
 public:
  explicit Cycler(std::vector<Value> items) : items_(std::move(items)) {}
  std::string type_name() const override { return "Cycler"; }
  std::optional<Value> get_attr(const std::string& name) override {
    if (name == "current") return items_[pos_];
    if (name == "next") {
      return Value::function("next", [this](Interp&, CallArgs&) -> Value {
        Value v = items_[pos_];
        pos_ = (pos_ + 1) % items_.size();
        return v;
      });
    }
    if (name == "reset") {
      return Value::function("reset", [this](Interp&, CallArgs&) -> Value {
        pos_ = 0;
        return Value::none();
      });
    }
    if (name == "items") return Value::list(items_);
    return std::nullopt;
  }

 private:
  std::vector<Value> items_;
  size_t pos_ = 0;
};

class Joiner : public Object {
 public:
  explicit Joiner(std::string sep) : sep_(std::move(sep)) {}
  std::string type_name() const override { return "Joiner"; }
  bool callable() const override { return true; }
  Value call(Interp&, CallArgs&) override {
    if (!used_) {
      used_ = true;
      return Value::string("");
    }
    return Value::string(sep_);
  }

 private:
  std::string sep_;
  bool used_ = false;
};

Value g_range(Interp& in, CallArgs& a) {
  if (!a.kw.empty()) throw Error("range() takes no keyword arguments");
  if (a.pos.empty() || a.pos.size() > 3) throw Error("range expected 1 to 3 arguments, got " + std::to_string(a.pos.size()));
  int64_t start = 0, stop, step = 1;
  if (a.pos.size() == 1) {
    stop = to_int_arg(a.pos[0], "range");
  } else {
    start = to_int_arg(a.pos[0], "range");
    stop = to_int_arg(a.pos[1], "range");
    if (a.pos.size() == 3) step = to_int_arg(a.pos[2], "range");
  }
  if (step == 0) throw Error("range() arg 3 must not be zero");
  __int128 n = 0;
  if (step > 0 && stop > start) n = ((__int128)stop - start + step - 1) / step;
  if (step < 0 && stop < start) n = ((__int128)start - stop - step - 1) / (-(__int128)step);
  if (n > in.limits().max_range)
    throw Error("Range too big. The sandbox blocks ranges larger than MAX_RANGE (" +
                std::to_string(in.limits().max_range) + ").");
  std::vector<Value> out;
  out.reserve(static_cast<size_t>(n));
  for (int64_t i = 0; i < static_cast<int64_t>(n); ++i) out.push_back(Value::integer(start + i * step));
  return Value::list(std::move(out));
}

void fill_mapping(Interp& in, DictData& d, CallArgs& a, const char* fname) {
  if (a.pos.size() > 1) throw Error(std::string(fname) + " expected at most 1 argument, got " + std::to_string(a.pos.size()));
  if (!a.pos.empty()) {
    const Value& src = a.pos[0];
    if (src.is_dict() || src.is_namespace()) {
      for (const auto& [k, v] : src.dict_data().entries) d.set(k, v);
    } else {
      for (auto& pair : in.iterate(src)) {
        std::vector<Value> kv = in.iterate(pair);
        if (kv.size() != 2) throw Error("dictionary update sequence element has wrong length");
        d.set(kv[0], kv[1]);
      }
    }
  }
  for (auto& [k, v] : a.kw) d.set(k, v);
}

}  // namespace

// ---- public -------------------------------------------------------------------------------------

bool has_filter(const std::string& name) { return filter_table().count(name) != 0; }
bool has_test(const std::string& name) { return test_table().count(name) != 0; }

Value apply_filter(Interp& in, const std::string& name, const Value& input, CallArgs& args) {
  auto& t = filter_table();
  auto it = t.find(name);
  if (it == t.end()) throw Error("No filter named '" + name + "'.");
  return it->second(in, input, args);
}

bool apply_test(Interp& in, const std::string& name, const Value& v, CallArgs& args) {
  auto& t = test_table();
  auto it = t.find(name);
  if (it == t.end()) throw Error("No test named '" + name + "'.");
  return it->second(in, v, args);
}

std::optional<Value> builtin_method(const Value& obj, const std::string& name) {
  if (obj.is_string()) {
    for (const char* m : kStrMethods) {
      if (name == m) {
        std::string s = obj.as_string();
        return Value::function(name, [s, name](Interp& in, CallArgs& a) { return string_method(in, s, name, a); });
      }
    }
    return std::nullopt;
  }
  if (obj.is_dict()) {
    static const char* const methods[] = {"get", "items", "keys", "values", "copy",
                                          "pop", "popitem", "setdefault", "update", "clear"};
    for (const char* m : methods)
      if (name == m) return Value::function(name, [obj, name](Interp&, CallArgs& a) { return dict_method(obj, name, a); });
    return std::nullopt;
  }
  if (obj.is_list()) {
    static const char* const list_methods[] = {"index", "count", "copy", "append", "extend", "insert",
                                               "pop",   "remove", "reverse", "sort", "clear"};
    static const char* const tuple_methods[] = {"index", "count"};
    if (obj.is_tuple()) {
      for (const char* m : tuple_methods)
        if (name == m) return Value::function(name, [obj, name](Interp&, CallArgs& a) { return list_method(obj, name, a); });
      return std::nullopt;
    }
    for (const char* m : list_methods)
      if (name == m) return Value::function(name, [obj, name](Interp&, CallArgs& a) { return list_method(obj, name, a); });
  }
  return std::nullopt;
}

std::string percent_format(Interp& in, const std::string& fmt, const Value& args) {
  std::vector<Value> pos;
  const Value* mapping = nullptr;
  if (args.is_tuple()) pos = args.items();
  else if (args.is_dict()) mapping = &args;
  else pos.push_back(args);
  size_t next = 0;
  std::string out;
  for (size_t i = 0; i < fmt.size(); ++i) {
    if (fmt[i] != '%') {
      out += fmt[i];
      continue;
    }
    if (++i >= fmt.size()) throw Error("incomplete format");
    Value v;
    bool have = false;
    if (fmt[i] == '(') {
      size_t e = fmt.find(')', i);
      if (e == std::string::npos) throw Error("incomplete format key");
      if (!mapping) throw Error("format requires a mapping");
      std::string key = fmt.substr(i + 1, e - i - 1);
      const Value* f = mapping->dict_data().find(key);
      if (!f) throw Error("KeyError: '" + key + "'");
      v = *f;
      have = true;
      i = e + 1;
    }
    std::string flags;
    while (i < fmt.size() && std::string("-+ #0").find(fmt[i]) != std::string::npos) flags += fmt[i++];
    std::string width, prec;
    auto take_star = [&]() -> std::string {
      if (next >= pos.size()) throw Error("not enough arguments for format string");
      return std::to_string(to_int_arg(pos[next++], "*"));
    };
    if (i < fmt.size() && fmt[i] == '*') {
      width = take_star();
      ++i;
    } else {
      while (i < fmt.size() && isdigit(static_cast<unsigned char>(fmt[i]))) width += fmt[i++];
    }
    bool has_prec = false;
    if (i < fmt.size() && fmt[i] == '.') {
      has_prec = true;
      ++i;
      if (i < fmt.size() && fmt[i] == '*') {
        prec = take_star();
        ++i;
      } else {
        while (i < fmt.size() && isdigit(static_cast<unsigned char>(fmt[i]))) prec += fmt[i++];
      }
      if (prec.empty()) prec = "0";
    }
    while (i < fmt.size() && (fmt[i] == 'h' || fmt[i] == 'l' || fmt[i] == 'L')) ++i;
    if (i >= fmt.size()) throw Error("incomplete format");
    char conv = fmt[i];
    if (conv == '%') {
      out += '%';
      continue;
    }
    if (!have) {
      if (mapping) {
        v = *mapping;
      } else {
        if (next >= pos.size()) throw Error("not enough arguments for format string");
        v = pos[next++];
      }
    }
    if (width.size() > 6 || prec.size() > 4) throw Error("format width too large");
    std::string body;
    char buf[1400];
    std::string cspec = "%" + flags + width + (has_prec ? "." + prec : "");
    switch (conv) {
      case 's':
      case 'r':
      case 'a': {
        std::string s = conv == 's' ? sval(v) : to_repr(v);
        if (has_prec) {
          auto cps = utf8_decode(s);
          size_t p = static_cast<size_t>(std::stoll(prec));
          if (cps.size() > p) cps.resize(p);
          s = utf8_encode(cps);
        }
        int64_t w = width.empty() ? 0 : std::stoll(width);
        body = pad_str(in, s, w, flags.find('-') != std::string::npos ? '<' : '>');
        break;
      }
      case 'd':
      case 'i':
      case 'u':
      case 'x':
      case 'X':
      case 'o': {
        if (!v.is_number()) throw Error(std::string("%") + conv + " format: a real number is required, not " + v.type_name());
        int64_t x = int_like(v) ? v.as_int() : static_cast<int64_t>(v.as_float());
        char c = conv == 'i' || conv == 'u' ? 'd' : conv;
        std::snprintf(buf, sizeof buf, (cspec + "ll" + c).c_str(), static_cast<long long>(x));
        body = buf;
        if (x < 0 && c != 'd') {  // Python prints a sign, not two's complement
          std::snprintf(buf, sizeof buf, (cspec + "ll" + c).c_str(), static_cast<long long>(-x));
          body = "-" + std::string(buf);
        }
        break;
      }
      case 'e':
      case 'E':
      case 'f':
      case 'F':
      case 'g':
      case 'G': {
        if (!v.is_number()) throw Error("must be real number, not " + v.type_name());
        std::snprintf(buf, sizeof buf, (cspec + conv).c_str(), v.as_float());
        body = buf;
        break;
      }
      case 'c': {
        if (v.is_string() && utf8_length(v.as_string()) == 1) body = v.as_string();
        else if (int_like(v)) utf8_append(body, static_cast<uint32_t>(v.as_int()));
        else throw Error("%c requires int or char");
        break;
      }
      default:
        throw Error(std::string("unsupported format character '") + conv + "'");
    }
    out += body;
    in.check_string(out.size());
  }
  if (!mapping && next < pos.size()) throw Error("not all arguments converted during string formatting");
  return out;
}

void install_globals(DictData& g) {
  g.set("range", Value::function("range", g_range));
  g.set("namespace", Value::function("namespace", [](Interp& in, CallArgs& a) {
          Value ns = in.make_namespace();
          fill_mapping(in, ns.dict_data(), a, "namespace");
          return ns;
        }));
  g.set("dict", Value::function("dict", [](Interp& in, CallArgs& a) {
          Value d = Value::dict();
          fill_mapping(in, d.dict_data(), a, "dict");
          return d;
        }));
  g.set("cycler", Value::function("cycler", [](Interp&, CallArgs& a) {
          if (a.pos.empty()) throw Error("cycler() needs at least one item");
          return Value::object(std::make_shared<Cycler>(a.pos));
        }));
  g.set("joiner", Value::function("joiner", [](Interp&, CallArgs& a) {
          Bound b = bind(a, {"sep"}, "joiner");
          return Value::object(std::make_shared<Joiner>(b.has(0) ? sval(*b.get(0)) : ", "));
        }));
  g.set("raise_exception", Value::function("raise_exception", [](Interp&, CallArgs& a) -> Value {
          Bound b = bind(a, {"message"}, "raise_exception");
          throw TemplateRaise(b.has(0) ? sval(*b.get(0)) : "raise_exception() called");
        }));
  g.set("strftime_now", Value::function("strftime_now", [](Interp&, CallArgs& a) -> Value {
          Bound b = bind(a, {"format"}, "strftime_now");
          if (!b.has(0)) throw Error("strftime_now() missing required argument 'format'");
          std::string fmt = sval(*b.get(0));
          if (fmt.size() > 256) throw Error("strftime_now() format too long");
          std::time_t now = std::time(nullptr);
          std::tm tm{};
          localtime_r(&now, &tm);
          char buf[4096];
          size_t n = fmt.empty() ? 0 : std::strftime(buf, sizeof buf, fmt.c_str(), &tm);
          return Value::string(std::string(buf, n));
        }));
}

}  // namespace g4::tpl
