// Python's str helpers (split, case mapping, padding, number parsing) and the methods of str, dict and
// list values ("abc".upper(), d.items(), l.index(x)).
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

namespace detail {

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
std::string pad_str(Interp& in, const std::string& s, int64_t width, char align, const std::string& fill) {
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

}  // namespace detail

using namespace detail;

namespace {

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

}  // namespace

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

}  // namespace g4::tpl
