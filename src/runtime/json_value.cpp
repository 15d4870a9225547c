// Values against the compiled schema: exact number bounds, literal texts in both output syntaxes,
// and the reference validator the automaton is held to.
#include <algorithm>
#include <array>
#include <cmath>

#include "core/error.h"
#include "runtime/json_schema.h"
#include "template/value.h"

namespace g4::jsonc {

namespace {

constexpr int kClampDigits = 33;

Int128 clamp_limit() { return pow10_128(kClampDigits); }

// value in [A, B] on the grid A + t*q (t >= 0) meets [L, H]?
bool hits(Int128 A, Int128 B, Int128 q, Int128 L, Int128 H) {
  Int128 lo = std::max(A, L), hi = std::min(B, H);
  if (lo > hi) return false;
  Int128 t = (lo - A + q - 1) / q;
  return A + t * q <= hi;
}

bool is_ws_or_control(uint32_t cp) {
  return cp < 0x20 || cp == 0x7F || cp == ' ' || cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) ||
         cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000 || cp == 0xFEFF;
}

}  // namespace

Int128 pow10_128(int n) {
  static const auto table = [] {
    std::array<Int128, 39> t{};
    t[0] = 1;
    for (int i = 1; i < 39; ++i) t[size_t(i)] = t[size_t(i - 1)] * 10;
    return t;
  }();
  check(n >= 0 && n <= 38, "pow10_128: exponent out of range");
  return table[size_t(n)];
}

Int128 scaled_number(const Json& v, bool ceil_mode) {
  const std::string text = v.dump();
  size_t i = 0;
  bool neg = false;
  if (i < text.size() && text[i] == '-') {
    neg = true;
    ++i;
  }
  Int128 mant = 0;
  int mant_digits = 0, exp10 = 0;
  bool frac = false;
  for (; i < text.size(); ++i) {
    char c = text[i];
    if (c == '.') {
      frac = true;
      continue;
    }
    if (c < '0' || c > '9') break;
    if (mant_digits < 36) {
      mant = mant * 10 + (c - '0');
      if (mant != 0) ++mant_digits;
      if (frac) --exp10;
    } else if (!frac) {
      ++exp10;  // digits beyond what we keep (cannot happen for dump()'s output)
    }
  }
  if (i < text.size() && (text[i] == 'e' || text[i] == 'E')) {
    ++i;
    bool eneg = false;
    if (i < text.size() && (text[i] == '+' || text[i] == '-')) eneg = text[i++] == '-';
    int e = 0;
    for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i) e = std::min(e * 10 + (text[i] - '0'), 10000);
    exp10 += eneg ? -e : e;
  }
  const Int128 limit = clamp_limit();
  if (mant == 0) return 0;
  const int e = exp10 + kScaleDigits;
  Int128 mag;
  bool inexact = false;
  if (e >= 0) {
    if (mant_digits + e > kClampDigits) return neg ? -limit : limit;
    mag = mant * pow10_128(e);
  } else if (-e > 38) {
    mag = 0;
    inexact = true;
  } else {
    Int128 p = pow10_128(-e);
    mag = mant / p;
    inexact = mant % p != 0;
  }
  if (mag > limit) mag = limit;
  // round the signed value: toward +inf adds one to a positive inexact magnitude
  if (!neg) return mag + ((ceil_mode && inexact) ? 1 : 0);
  return -(mag + ((!ceil_mode && inexact) ? 1 : 0));
}

bool number_on_grid(const Json& v) { return scaled_number(v, true) == scaled_number(v, false); }

bool number_viable(const Node& n, const NumProgress& p) {
  if (!n.bounded) return true;
  Int128 L, H;
  if (!p.neg) {
    L = std::max<Int128>(n.lo, 0);
    H = n.hi;
  } else {
    L = std::max<Int128>(-n.hi, 0);
    H = -n.lo;
  }
  if (L > H) return false;
  const int T = p.int_only ? kMaxIntDigits : kMaxBoundedDigits;
  const Int128 U = pow10_128(kScaleDigits);
  // integer part I with k digits, growing by up to T - k more digits when allowed
  auto int_part = [&](Int128 I, int k, bool can_grow) {
    const int grow = can_grow ? T - k : 0;
    for (int j = 0; j <= grow; ++j) {
      const Int128 A = I * pow10_128(j) * U;
      if (p.int_only) {
        if (hits(A, ((I + 1) * pow10_128(j) - 1) * U, U, L, H)) return true;
      } else {
        const int f = T - k - j;  // fraction digits still allowed
        const Int128 q = pow10_128(kScaleDigits - f);
        if (hits(A, (I + 1) * pow10_128(j) * U - q, q, L, H)) return true;
      }
    }
    return false;
  };
  switch (p.phase) {
    case NumProgress::Start:
      for (int d = 0; d <= 9; ++d)
        if (int_part(d, 1, d != 0)) return true;
      return false;
    case NumProgress::Int:
      return int_part(p.digits, p.k, true);
    case NumProgress::Zero:
      return int_part(0, 1, false);
    case NumProgress::Dot: {
      const int r = T - p.k;
      if (r < 1) return false;
      const Int128 q = pow10_128(kScaleDigits - r);
      return hits(Int128(p.digits) * U, (Int128(p.digits) + 1) * U - q, q, L, H);
    }
    case NumProgress::Frac: {
      const int r = T - p.k - p.m;
      const Int128 A = Int128(p.digits) * pow10_128(kScaleDigits - p.m);
      const Int128 q = pow10_128(kScaleDigits - p.m - r);
      return hits(A, A + pow10_128(kScaleDigits - p.m) - q, q, L, H);
    }
  }
  return false;
}

bool number_in_bounds(const Node& n, const NumProgress& p) {
  if (p.phase != NumProgress::Int && p.phase != NumProgress::Zero && p.phase != NumProgress::Frac) return false;
  if (!n.bounded) return true;
  Int128 v = Int128(p.digits) * pow10_128(kScaleDigits - (p.phase == NumProgress::Frac ? p.m : 0));
  if (p.neg) v = -v;
  return n.lo <= v && v <= n.hi;
}

bool json_equal(const Json& a, const Json& b) {
  if (a.is_number() && b.is_number()) return a == b;
  if (a.type() != b.type()) return false;
  if (a.is_object()) {
    if (a.size() != b.size()) return false;
    for (auto it = a.begin(); it != a.end(); ++it) {
      auto jt = b.find(it.key());
      if (jt == b.end() || !json_equal(it.value(), *jt)) return false;
    }
    return true;
  }
  if (a.is_array()) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i)
      if (!json_equal(a[i], b[i])) return false;
    return true;
  }
  return a == b;
}

int json_depth(const Json& v) {
  if (!v.is_object() && !v.is_array()) return 0;
  int d = 0;
  for (const Json& x : v) d = std::max(d, json_depth(x));
  return d + 1;
}

std::vector<size_t> dictsort_order(const std::vector<std::string>& keys) {
  std::vector<std::string> lowered;
  lowered.reserve(keys.size());
  for (const std::string& k : keys) lowered.push_back(tpl::str_lower(k));
  std::vector<size_t> idx(keys.size());
  for (size_t i = 0; i < idx.size(); ++i) idx[i] = i;
  std::stable_sort(idx.begin(), idx.end(), [&](size_t a, size_t b) { return lowered[a] < lowered[b]; });
  return idx;
}

std::string render_key(const std::string& name, JsonSyntax syntax) {
  if (syntax == JsonSyntax::Json) {
    try {
      return Json(name).dump();
    } catch (const Json::exception&) {
      throw Error("the property name is not valid UTF-8");
    }
  }
  if (name.find("<|\"|>") != std::string::npos)
    throw Error("the property name \"" + name + "\" contains <|\"|>, which Gemma's call syntax cannot write");
  bool bare = !name.empty();
  for (uint32_t cp : tpl::utf8_decode(name)) {
    if (is_ws_or_control(cp) || cp == ':' || cp == ',' || cp == '{' || cp == '}' || cp == '[' || cp == ']' ||
        cp == '<' || cp == '"' || cp == 0xFFFD)
      bare = false;
  }
  if (bare) return name;
  return std::string(1, char(kGemmaQuote)) + name + std::string(1, char(kGemmaQuote));
}

namespace {

void render_gemma(const Json& v, std::string& out) {
  switch (v.type()) {
    case Json::value_t::string: {
      const std::string& s = v.get_ref<const std::string&>();
      if (s.find("<|\"|>") != std::string::npos)
        throw Error("the string \"" + s + "\" contains <|\"|>, which Gemma's call syntax cannot write");
      out += char(kGemmaQuote);
      out += s;
      out += char(kGemmaQuote);
      return;
    }
    case Json::value_t::object: {
      std::vector<std::string> keys;
      std::vector<const Json*> vals;
      for (auto it = v.begin(); it != v.end(); ++it) {
        keys.push_back(it.key());
        vals.push_back(&it.value());
      }
      out += '{';
      bool first = true;
      for (size_t i : dictsort_order(keys)) {
        if (!first) out += ',';
        first = false;
        out += render_key(keys[i], JsonSyntax::Gemma);
        out += ':';
        render_gemma(*vals[i], out);
      }
      out += '}';
      return;
    }
    case Json::value_t::array: {
      out += '[';
      for (size_t i = 0; i < v.size(); ++i) {
        if (i) out += ',';
        render_gemma(v[i], out);
      }
      out += ']';
      return;
    }
    default:
      out += v.dump();
  }
}

}  // namespace

std::string render_literal(const Json& v, JsonSyntax syntax) {
  if (syntax == JsonSyntax::Gemma) {
    std::string out;
    render_gemma(v, out);
    return out;
  }
  try {
    return v.dump();
  } catch (const Json::exception&) {
    throw Error("the value is not valid UTF-8");
  }
}

const std::vector<std::string>& forbidden_markers(JsonSyntax syntax) {
  static const std::vector<std::string> json = {"<|channel>", "<channel|>",  "<|tool_call>",
                                                "<tool_call|>", "<turn|>", "<|tool_response>"};
  static const std::vector<std::string> gemma = {"<|\"|>"};
  return syntax == JsonSyntax::Json ? json : gemma;
}

// ---- the reference validator ----

namespace {

size_t code_points(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

int item_node(const Node& n, size_t i) { return i < n.prefix.size() ? n.prefix[i] : n.items; }

}  // namespace

bool validate_value(const Schema& s, int node, const Json& v, bool ignore_enum) {
  const Node& n = s.nodes[size_t(node)];
  if (!n.any_of.empty()) {
    for (int a : n.any_of)
      if (validate_value(s, a, v)) return true;
    return false;
  }
  if (n.has_enum && !ignore_enum) {
    bool found = false;
    for (const Json& e : n.enum_values) found = found || json_equal(e, v);
    if (!found) return false;
  }
  switch (v.type()) {
    case Json::value_t::object: {
      if (!(n.types & T_OBJ)) return false;
      std::vector<uint8_t> seen(n.prop_names.size(), 0);
      for (auto it = v.begin(); it != v.end(); ++it) {
        auto p = std::find(n.prop_names.begin(), n.prop_names.end(), it.key());
        int child;
        if (p != n.prop_names.end()) {
          size_t i = size_t(p - n.prop_names.begin());
          seen[i] = 1;
          child = n.prop_nodes[i];
        } else {
          child = n.additional;
        }
        if (child < 0 || !validate_value(s, child, it.value())) return false;
      }
      for (size_t i = 0; i < seen.size(); ++i)
        if (n.prop_required[i] && !seen[i]) return false;
      return true;
    }
    case Json::value_t::array: {
      if (!(n.types & T_ARR)) return false;
      if (int64_t(v.size()) < n.min_items || (n.max_items >= 0 && int64_t(v.size()) > n.max_items)) return false;
      for (size_t i = 0; i < v.size(); ++i) {
        int child = item_node(n, i);
        if (child < 0 || !validate_value(s, child, v[i])) return false;
      }
      return true;
    }
    case Json::value_t::string: {
      if (!(n.types & T_STR)) return false;
      const std::string& str = v.get_ref<const std::string&>();
      const int64_t len = int64_t(code_points(str));
      if (len < n.min_len || (n.max_len >= 0 && len > n.max_len)) return false;
      return n.str_dfa >= 0 && s.dfas[size_t(n.str_dfa)].matches(str);
    }
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned:
    case Json::value_t::number_float: {
      const bool integral =
          !v.is_number_float() || (std::isfinite(v.get<double>()) && std::floor(v.get<double>()) == v.get<double>());
      if (!(n.types & T_NUM) && !((n.types & T_INT) && integral)) return false;
      if (!n.bounded) return true;
      if (!number_on_grid(v)) return false;  // finer than the bounds' grid: never written, not judged
      Int128 x = scaled_number(v, true);
      return n.lo <= x && x <= n.hi;
    }
    case Json::value_t::boolean:
      return (n.types & T_BOOL) != 0;
    case Json::value_t::null:
      return (n.types & T_NULL) != 0;
    default:
      return false;
  }
}

}  // namespace g4::jsonc
