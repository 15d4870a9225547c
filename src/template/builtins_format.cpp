// String formatting: Python's format mini-language (str.format, the format filter's "{}" specs) and
// printf-style "fmt % args".
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

namespace {

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

}  // namespace

namespace detail {

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

}  // namespace detail

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

}  // namespace g4::tpl
