#include "template/value.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "core/error.h"

namespace g4::tpl {

namespace {

constexpr int kMaxDepth = 400;  // nesting depth for repr / equality / json (recursive namespaces)

void check_depth(int depth) {
  if (depth > kMaxDepth) throw Error("maximum recursion depth exceeded while converting a value");
}

class FunctionObject : public Object {
 public:
  FunctionObject(std::string name, std::function<Value(Interp&, CallArgs&)> fn)
      : name_(std::move(name)), fn_(std::move(fn)) {}
  std::string type_name() const override { return "function"; }
  bool callable() const override { return true; }
  Value call(Interp& interp, CallArgs& args) override { return fn_(interp, args); }
  const std::string& name() const { return name_; }

 private:
  std::string name_;
  std::function<Value(Interp&, CallArgs&)> fn_;
};

}  // namespace

std::optional<Value> Object::get_attr(const std::string&) { return std::nullopt; }

Value Object::call(Interp&, CallArgs&) { throw Error("'" + type_name() + "' object is not callable"); }

void throw_too_deep() {
  throw Error("value nesting too deep (limit " + std::to_string(kMaxValueDepth) + ")");
}

int value_depth(const Value& v) {
  if (v.is_list()) return v.list_data().depth;
  if (v.is_dict()) return v.dict_data().depth;
  return 0;
}

Value Value::list(std::vector<Value> items, bool tuple) {
  int depth = 1;
  for (const auto& e : items) depth = std::max(depth, value_depth(e) + 1);
  if (depth > kMaxValueDepth) throw_too_deep();
  Value v(Kind::List);
  v.list_ = std::make_shared<ListData>();
  v.list_->items = std::move(items);
  v.list_->tuple = tuple;
  v.list_->depth = depth;
  return v;
}

Value Value::dict() {
  Value v(Kind::Dict);
  v.dict_ = std::make_shared<DictData>();
  return v;
}

Value Value::dict(std::shared_ptr<DictData> d) {
  Value v(Kind::Dict);
  v.dict_ = std::move(d);
  return v;
}

Value Value::namespace_() {
  Value v(Kind::Namespace);
  v.dict_ = std::make_shared<DictData>();
  return v;
}

Value Value::function(std::string name, std::function<Value(Interp&, CallArgs&)> fn) {
  return object(std::make_shared<FunctionObject>(std::move(name), std::move(fn)));
}

bool Value::truthy() const {
  switch (kind_) {
    case Kind::Undefined:
    case Kind::None:
      return false;
    case Kind::Bool:
    case Kind::Int:
      return int_ != 0;
    case Kind::Float:
      return float_ != 0.0;
    case Kind::String:
      return !str_.empty();
    case Kind::List:
      return !list_->items.empty();
    case Kind::Dict:
      return dict_->size() != 0;
    default:
      return true;
  }
}

std::string Value::type_name() const {
  switch (kind_) {
    case Kind::Undefined:
      return "Undefined";
    case Kind::None:
      return "NoneType";
    case Kind::Bool:
      return "bool";
    case Kind::Int:
      return "int";
    case Kind::Float:
      return "float";
    case Kind::String:
      return "str";
    case Kind::List:
      return list_->tuple ? "tuple" : "list";
    case Kind::Dict:
      return "dict";
    case Kind::Namespace:
      return "Namespace";
    case Kind::Object:
      return obj_->type_name();
  }
  return "object";
}

// ---- dict ---------------------------------------------------------------------------------------

std::string hash_key(const Value& key) {
  switch (key.kind()) {
    case Value::Kind::String:
      return "s" + key.as_string();
    case Value::Kind::Int:
    case Value::Kind::Bool:
      return "n" + std::to_string(key.as_int());
    case Value::Kind::Float: {
      double d = key.as_float();
      if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9.2e18)
        return "n" + std::to_string(static_cast<int64_t>(d));
      return "f" + python_float_repr(d);
    }
    case Value::Kind::None:
      return "N";
    case Value::Kind::List:
      if (key.is_tuple()) {
        std::string k = "t(";
        for (const auto& e : key.items()) k += hash_key(e) + ",";
        return k + ")";
      }
      break;
    default:
      break;
  }
  throw Error("unhashable type: '" + key.type_name() + "'");
}

const Value* DictData::find(const Value& key) const {
  if (key.kind() == Value::Kind::List && !key.is_tuple()) return nullptr;
  if (key.is_dict() || key.is_namespace() || key.is_object() || key.is_undefined()) return nullptr;
  auto it = index.find(hash_key(key));
  return it == index.end() ? nullptr : &entries[it->second].second;
}

const Value* DictData::find(const std::string& key) const {
  auto it = index.find("s" + key);
  return it == index.end() ? nullptr : &entries[it->second].second;
}

void DictData::set(const Value& key, Value value) {
  int d = value_depth(value) + 1;
  if (d > kMaxValueDepth) throw_too_deep();
  depth = std::max(depth, d);
  std::string h = hash_key(key);
  auto it = index.find(h);
  if (it != index.end()) {
    entries[it->second].second = std::move(value);
    return;
  }
  index.emplace(std::move(h), entries.size());
  entries.emplace_back(key, std::move(value));
}

// ---- UTF-8 --------------------------------------------------------------------------------------

std::vector<uint32_t> utf8_decode(const std::string& s) {
  std::vector<uint32_t> out;
  out.reserve(s.size());
  size_t i = 0, n = s.size();
  while (i < n) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    uint32_t cp;
    size_t len;
    if (c < 0x80) {
      cp = c;
      len = 1;
    } else if ((c & 0xE0) == 0xC0) {
      cp = c & 0x1F;
      len = 2;
    } else if ((c & 0xF0) == 0xE0) {
      cp = c & 0x0F;
      len = 3;
    } else if ((c & 0xF8) == 0xF0) {
      cp = c & 0x07;
      len = 4;
    } else {
      out.push_back(0xDC00 + c);  // surrogateescape: keeps invalid bytes round-trippable
      ++i;
      continue;
    }
    bool ok = i + len <= n;
    for (size_t k = 1; ok && k < len; ++k) {
      unsigned char cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) ok = false;
      else cp = (cp << 6) | (cc & 0x3F);
    }
    if (ok && ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
               (cp >= 0xD800 && cp <= 0xDFFF)))
      ok = false;
    if (!ok) {
      out.push_back(0xDC00 + c);
      ++i;
      continue;
    }
    out.push_back(cp);
    i += len;
  }
  return out;
}

void utf8_append(std::string& out, uint32_t cp) {
  if (cp >= 0xDC80 && cp <= 0xDCFF) {
    out += static_cast<char>(cp - 0xDC00);
  } else if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

std::string utf8_encode(const std::vector<uint32_t>& cps) {
  std::string out;
  out.reserve(cps.size());
  for (uint32_t cp : cps) utf8_append(out, cp);
  return out;
}

size_t utf8_length(const std::string& s) {
  bool ascii = true;
  for (char c : s)
    if (static_cast<unsigned char>(c) >= 0x80) {
      ascii = false;
      break;
    }
  return ascii ? s.size() : utf8_decode(s).size();
}

bool py_isspace(uint32_t cp) {
  return (cp >= 9 && cp <= 13) || (cp >= 0x1C && cp <= 0x20) || cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
         (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F ||
         cp == 0x3000;
}

uint32_t py_lower(uint32_t c) {
  if (c < 0x80) return (c >= 'A' && c <= 'Z') ? c + 32 : c;
  if ((c >= 0xC0 && c <= 0xDE && c != 0xD7)) return c + 0x20;
  if ((c >= 0x100 && c <= 0x12F) || (c >= 0x132 && c <= 0x137) || (c >= 0x14A && c <= 0x177))
    return (c % 2 == 0) ? c + 1 : c;
  if ((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E)) return (c % 2 == 1) ? c + 1 : c;
  if (c == 0x130) return 'i';
  if (c == 0x178) return 0xFF;
  if ((c >= 0x391 && c <= 0x3A1) || (c >= 0x3A3 && c <= 0x3AB)) return c + 0x20;
  if (c == 0x386) return 0x3AC;
  if (c >= 0x388 && c <= 0x38A) return c + 0x25;
  if (c == 0x38C) return 0x3CC;
  if (c == 0x38E || c == 0x38F) return c + 0x3F;
  if (c >= 0x410 && c <= 0x42F) return c + 0x20;
  if (c >= 0x400 && c <= 0x40F) return c + 0x50;
  if ((c >= 0x460 && c <= 0x481) || (c >= 0x48A && c <= 0x4BF) || (c >= 0x4D0 && c <= 0x52F))
    return (c % 2 == 0) ? c + 1 : c;
  if (c >= 0x531 && c <= 0x556) return c + 0x30;
  if (c >= 0xFF21 && c <= 0xFF3A) return c + 0x20;
  return c;
}

uint32_t py_upper(uint32_t c) {
  if (c < 0x80) return (c >= 'a' && c <= 'z') ? c - 32 : c;
  if ((c >= 0xE0 && c <= 0xFE && c != 0xF7)) return c - 0x20;
  if (c == 0xFF) return 0x178;
  if (c == 0xB5) return 0x39C;
  if ((c >= 0x100 && c <= 0x12F) || (c >= 0x132 && c <= 0x137) || (c >= 0x14A && c <= 0x177))
    return (c % 2 == 1) ? c - 1 : c;
  if ((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E)) return (c % 2 == 0) ? c - 1 : c;
  if (c == 0x131) return 'I';
  if (c == 0x17F) return 'S';
  if (c == 0x3C2) return 0x3A3;
  if ((c >= 0x3B1 && c <= 0x3C1) || (c >= 0x3C3 && c <= 0x3CB)) return c - 0x20;
  if (c == 0x3AC) return 0x386;
  if (c >= 0x3AD && c <= 0x3AF) return c - 0x25;
  if (c == 0x3CC) return 0x38C;
  if (c == 0x3CD || c == 0x3CE) return c - 0x3F;
  if (c >= 0x430 && c <= 0x44F) return c - 0x20;
  if (c >= 0x450 && c <= 0x45F) return c - 0x50;
  if ((c >= 0x460 && c <= 0x481) || (c >= 0x48A && c <= 0x4BF) || (c >= 0x4D0 && c <= 0x52F))
    return (c % 2 == 1) ? c - 1 : c;
  if (c >= 0x561 && c <= 0x586) return c - 0x30;
  if (c >= 0xFF41 && c <= 0xFF5A) return c - 0x20;
  return c;
}

bool py_isdigit(uint32_t cp) { return cp >= '0' && cp <= '9'; }

bool py_isalpha(uint32_t cp) {
  if (cp < 0x80) return (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z');
  if (py_lower(cp) != cp || py_upper(cp) != cp) return true;
  if (cp == 0xAA || cp == 0xBA || cp == 0xDF) return true;
  if (cp >= 0x4E00 && cp <= 0x9FFF) return true;   // CJK ideographs
  if (cp >= 0x3040 && cp <= 0x30FF) return true;   // kana
  if (cp >= 0xAC00 && cp <= 0xD7A3) return true;   // hangul
  if (cp >= 0x5D0 && cp <= 0x5EA) return true;     // hebrew
  if (cp >= 0x620 && cp <= 0x64A) return true;     // arabic
  return false;
}

std::string str_lower(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (uint32_t cp : utf8_decode(s)) utf8_append(out, py_lower(cp));
  return out;
}

std::string str_upper(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (uint32_t cp : utf8_decode(s)) {
    if (cp == 0xDF) out += "SS";
    else utf8_append(out, py_upper(cp));
  }
  return out;
}

std::string str_strip(const std::string& s, const std::string* chars, bool left, bool right) {
  std::vector<uint32_t> cps = utf8_decode(s);
  std::vector<uint32_t> set;
  if (chars) set = utf8_decode(*chars);
  auto strip_it = [&](uint32_t cp) {
    return chars ? std::find(set.begin(), set.end(), cp) != set.end() : py_isspace(cp);
  };
  size_t b = 0, e = cps.size();
  if (left)
    while (b < e && strip_it(cps[b])) ++b;
  if (right)
    while (e > b && strip_it(cps[e - 1])) --e;
  return utf8_encode(std::vector<uint32_t>(cps.begin() + b, cps.begin() + e));
}

// ---- printing -------------------------------------------------------------------------------------

std::string python_float_repr(double d) {
  if (std::isnan(d)) return "nan";
  if (std::isinf(d)) return d > 0 ? "inf" : "-inf";
  if (d == 0) return std::signbit(d) ? "-0.0" : "0.0";
  char buf[64];
  int prec = 1;
  for (; prec <= 17; ++prec) {
    std::snprintf(buf, sizeof buf, "%.*e", prec - 1, d);
    if (std::strtod(buf, nullptr) == d) break;
  }
  std::string s = buf;
  bool neg = false;
  if (s[0] == '-') {
    neg = true;
    s = s.substr(1);
  }
  size_t epos = s.find('e');
  std::string mant = s.substr(0, epos);
  int exp10 = std::atoi(s.c_str() + epos + 1);
  std::string digits;
  for (char c : mant)
    if (c != '.') digits += c;
  while (digits.size() > 1 && digits.back() == '0') digits.pop_back();
  int decpt = exp10 + 1;
  std::string out;
  if (decpt > -4 && decpt <= 16) {
    if (decpt <= 0) {
      out = "0." + std::string(-decpt, '0') + digits;
    } else if (decpt >= static_cast<int>(digits.size())) {
      out = digits + std::string(decpt - digits.size(), '0') + ".0";
    } else {
      out = digits.substr(0, decpt) + "." + digits.substr(decpt);
    }
  } else {
    out = digits.substr(0, 1);
    if (digits.size() > 1) out += "." + digits.substr(1);
    int e = decpt - 1;
    char eb[16];
    std::snprintf(eb, sizeof eb, "e%c%02d", e < 0 ? '-' : '+', e < 0 ? -e : e);
    out += eb;
  }
  return neg ? "-" + out : out;
}

namespace {
bool py_printable(uint32_t cp) {
  if (cp < 0x20 || cp == 0x7F) return false;
  if (cp >= 0x80 && cp <= 0xA0) return false;
  if (cp == 0xAD) return false;
  if (cp >= 0xD800 && cp <= 0xDFFF) return false;
  if ((cp >= 0x2000 && cp <= 0x200F) || (cp >= 0x2028 && cp <= 0x202F) || (cp >= 0x205F && cp <= 0x206F))
    return false;
  if (cp == 0x3000 || cp == 0xFEFF || cp == 0x1680 || (cp >= 0xFFF9 && cp <= 0xFFFB)) return false;
  if (cp >= 0xE000 && cp <= 0xF8FF) return false;
  return true;
}
}  // namespace

std::string python_string_repr(const std::string& s) {
  bool has_single = s.find('\'') != std::string::npos;
  bool has_double = s.find('"') != std::string::npos;
  char q = (has_single && !has_double) ? '"' : '\'';
  std::string out(1, q);
  for (uint32_t cp : utf8_decode(s)) {
    if (cp == static_cast<uint32_t>(q) || cp == '\\') {
      out += '\\';
      out += static_cast<char>(cp);
    } else if (cp == '\n') {
      out += "\\n";
    } else if (cp == '\r') {
      out += "\\r";
    } else if (cp == '\t') {
      out += "\\t";
    } else if (cp >= 0xDC80 && cp <= 0xDCFF) {
      char b[8];
      std::snprintf(b, sizeof b, "\\udc%02x", cp & 0xFF);
      out += b;
    } else if (!py_printable(cp)) {
      char b[16];
      if (cp < 0x100) std::snprintf(b, sizeof b, "\\x%02x", cp);
      else if (cp < 0x10000) std::snprintf(b, sizeof b, "\\u%04x", cp);
      else std::snprintf(b, sizeof b, "\\U%08x", cp);
      out += b;
    } else {
      utf8_append(out, cp);
    }
  }
  out += q;
  return out;
}

namespace {
void repr_into(std::string& out, const Value& v, int depth);

void str_into(std::string& out, const Value& v, int depth) {
  switch (v.kind()) {
    case Value::Kind::Undefined:
      return;
    case Value::Kind::String:
      out += v.as_string();
      return;
    default:
      repr_into(out, v, depth);
  }
}

void repr_into(std::string& out, const Value& v, int depth) {
  check_depth(depth);
  switch (v.kind()) {
    case Value::Kind::Undefined:
      return;
    case Value::Kind::None:
      out += "None";
      return;
    case Value::Kind::Bool:
      out += v.as_bool() ? "True" : "False";
      return;
    case Value::Kind::Int:
      out += std::to_string(v.as_int());
      return;
    case Value::Kind::Float:
      out += python_float_repr(v.as_float());
      return;
    case Value::Kind::String:
      out += python_string_repr(v.as_string());
      return;
    case Value::Kind::List: {
      bool tuple = v.is_tuple();
      out += tuple ? '(' : '[';
      const auto& items = v.items();
      for (size_t i = 0; i < items.size(); ++i) {
        if (i) out += ", ";
        repr_into(out, items[i], depth + 1);
      }
      if (tuple && items.size() == 1) out += ',';
      out += tuple ? ')' : ']';
      return;
    }
    case Value::Kind::Dict: {
      out += '{';
      bool first = true;
      for (const auto& [k, val] : v.dict_data().entries) {
        if (!first) out += ", ";
        first = false;
        repr_into(out, k, depth + 1);
        out += ": ";
        repr_into(out, val, depth + 1);
      }
      out += '}';
      return;
    }
    case Value::Kind::Namespace: {
      out += "<Namespace {";
      bool first = true;
      for (const auto& [k, val] : v.dict_data().entries) {
        if (!first) out += ", ";
        first = false;
        repr_into(out, k, depth + 1);
        out += ": ";
        repr_into(out, val, depth + 1);
      }
      out += "}>";
      return;
    }
    case Value::Kind::Object:
      out += "<" + v.obj().type_name() + " object>";
      return;
  }
}
}  // namespace

std::string to_str(const Value& v) {
  if (v.is_string()) return v.as_string();
  std::string out;
  str_into(out, v, 0);
  return out;
}

std::string to_repr(const Value& v) {
  std::string out;
  repr_into(out, v, 0);
  return out;
}

// ---- comparison -----------------------------------------------------------------------------------

namespace {
bool equal_impl(const Value& a, const Value& b, int depth) {
  check_depth(depth);
  if (a.is_number() && b.is_number()) {
    if (!a.is_float() && !b.is_float()) return a.as_int() == b.as_int();
    return a.as_float() == b.as_float();
  }
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case Value::Kind::Undefined:
    case Value::Kind::None:
      return true;
    case Value::Kind::String:
      return a.as_string() == b.as_string();
    case Value::Kind::List: {
      if (a.is_tuple() != b.is_tuple()) return false;
      const auto& x = a.items();
      const auto& y = b.items();
      if (x.size() != y.size()) return false;
      for (size_t i = 0; i < x.size(); ++i)
        if (!equal_impl(x[i], y[i], depth + 1)) return false;
      return true;
    }
    case Value::Kind::Dict: {
      const auto& x = a.dict_data();
      const auto& y = b.dict_data();
      if (x.size() != y.size()) return false;
      for (const auto& [k, v] : x.entries) {
        const Value* o = y.find(k);
        if (!o || !equal_impl(v, *o, depth + 1)) return false;
      }
      return true;
    }
    case Value::Kind::Namespace:
      return a.dict_ptr() == b.dict_ptr();
    case Value::Kind::Object:
      return a.obj_ptr() == b.obj_ptr();
    default:
      return false;
  }
}

int compare_impl(const Value& a, const Value& b, int depth);

[[noreturn]] void unordered(const Value& a, const Value& b) {
  throw Error("'<' not supported between instances of '" + a.type_name() + "' and '" + b.type_name() + "'");
}

int compare_impl(const Value& a, const Value& b, int depth) {
  check_depth(depth);
  if (a.is_number() && b.is_number()) {
    if (!a.is_float() && !b.is_float()) return a.as_int() < b.as_int() ? -1 : (a.as_int() > b.as_int() ? 1 : 0);
    double x = a.as_float(), y = b.as_float();
    return x < y ? -1 : (x > y ? 1 : 0);
  }
  if (a.is_string() && b.is_string()) {
    int c = a.as_string().compare(b.as_string());
    return c < 0 ? -1 : (c > 0 ? 1 : 0);
  }
  if (a.is_list() && b.is_list() && a.is_tuple() == b.is_tuple()) {
    const auto& x = a.items();
    const auto& y = b.items();
    for (size_t i = 0; i < x.size() && i < y.size(); ++i) {
      if (equal_impl(x[i], y[i], depth + 1)) continue;
      return compare_impl(x[i], y[i], depth + 1);
    }
    return x.size() < y.size() ? -1 : (x.size() > y.size() ? 1 : 0);
  }
  unordered(a, b);
}
}  // namespace

bool values_equal(const Value& a, const Value& b) { return equal_impl(a, b, 0); }

bool value_less(const Value& a, const Value& b) { return compare_impl(a, b, 0) < 0; }

// ---- JSON -----------------------------------------------------------------------------------------

namespace {
void json_string(std::string& out, const std::string& s) {
  out += '"';
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      default:
        if (c < 0x20) {
          char b[8];
          std::snprintf(b, sizeof b, "\\u%04x", c);
          out += b;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
}

struct JsonWriter {
  int indent;
  bool sort_keys;
  std::string item_sep, key_sep;
  std::string out;

  void newline(int level) {
    out += '\n';
    out.append(static_cast<size_t>(indent) * level, ' ');
  }

  void write(const Value& v, int level) {
    check_depth(level);
    switch (v.kind()) {
      case Value::Kind::None:
        out += "null";
        return;
      case Value::Kind::Bool:
        out += v.as_bool() ? "true" : "false";
        return;
      case Value::Kind::Int:
        out += std::to_string(v.as_int());
        return;
      case Value::Kind::Float: {
        double d = v.as_float();
        if (std::isnan(d)) out += "NaN";
        else if (std::isinf(d)) out += d > 0 ? "Infinity" : "-Infinity";
        else out += python_float_repr(d);
        return;
      }
      case Value::Kind::String:
        json_string(out, v.as_string());
        return;
      case Value::Kind::List: {
        const auto& items = v.items();
        if (items.empty()) {
          out += "[]";
          return;
        }
        out += '[';
        for (size_t i = 0; i < items.size(); ++i) {
          if (i) out += item_sep;
          if (indent >= 0) newline(level + 1);
          write(items[i], level + 1);
        }
        if (indent >= 0) newline(level);
        out += ']';
        return;
      }
      case Value::Kind::Dict: {
        std::vector<const std::pair<Value, Value>*> entries;
        for (const auto& e : v.dict_data().entries) entries.push_back(&e);
        if (entries.empty()) {
          out += "{}";
          return;
        }
        if (sort_keys)
          std::stable_sort(entries.begin(), entries.end(),
                           [](const auto* a, const auto* b) { return value_less(a->first, b->first); });
        out += '{';
        bool first = true;
        for (const auto* e : entries) {
          if (!first) out += item_sep;
          first = false;
          if (indent >= 0) newline(level + 1);
          const Value& k = e->first;
          if (k.is_string()) json_string(out, k.as_string());
          else if (k.is_bool()) out += k.as_bool() ? "\"true\"" : "\"false\"";
          else if (k.is_none()) out += "\"null\"";
          else if (k.is_int()) out += "\"" + std::to_string(k.as_int()) + "\"";
          else if (k.is_float()) out += "\"" + python_float_repr(k.as_float()) + "\"";
          else throw Error("keys must be str, int, float, bool or None, not " + k.type_name());
          out += key_sep;
          write(e->second, level + 1);
        }
        if (indent >= 0) newline(level);
        out += '}';
        return;
      }
      default:
        throw Error("Object of type " + v.type_name() + " is not JSON serializable");
    }
  }
};
}  // namespace

std::string to_json(const Value& v, int indent, bool sort_keys, const std::string& item_sep,
                    const std::string& key_sep) {
  JsonWriter w{indent, sort_keys, item_sep, key_sep, {}};
  if (w.item_sep.empty()) w.item_sep = indent >= 0 ? "," : ", ";
  if (w.key_sep.empty()) w.key_sep = ": ";
  w.write(v, 0);
  return std::move(w.out);
}

nlohmann::ordered_json to_ordered_json(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::None:
    case Value::Kind::Undefined:
      return nullptr;
    case Value::Kind::Bool:
      return v.as_bool();
    case Value::Kind::Int:
      return v.as_int();
    case Value::Kind::Float:
      return v.as_float();
    case Value::Kind::String:
      return v.as_string();
    case Value::Kind::List: {
      auto a = nlohmann::ordered_json::array();
      for (const auto& e : v.items()) a.push_back(to_ordered_json(e));
      return a;
    }
    case Value::Kind::Dict: {
      auto o = nlohmann::ordered_json::object();
      for (const auto& [k, val] : v.dict_data().entries) o[to_str(k)] = to_ordered_json(val);
      return o;
    }
    default:
      return to_str(v);
  }
}

}  // namespace g4::tpl
