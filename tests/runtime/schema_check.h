#pragma once
// Test helper: an independent JSON Schema validator for the keywords the constraint compiler
// supports, written from the specification (not from the compiler): used to judge what the
// automaton produces. `pattern` uses std::regex (ECMAScript) and is only judged on ASCII strings;
// oneOf is judged as JSON Schema means it (exactly one alternative).
#include <cmath>
#include <cstdint>
#include <regex>
#include <string>
#include <vector>

#include "core/json.h"

namespace g4::testing {

class SchemaCheck {
 public:
  explicit SchemaCheck(const Json& root) : root_(root) {}

  // "" when valid, else why not.
  std::string check(const Json& v) const { return check(v, root_, "", 0); }

 private:
  static size_t code_points(const std::string& s) {
    size_t n = 0;
    for (unsigned char c : s) n += (c & 0xC0) != 0x80;
    return n;
  }
  static bool ascii(const std::string& s) {
    for (unsigned char c : s)
      if (c >= 0x80) return false;
    return true;
  }
  static bool equal(const Json& a, const Json& b) {
    if (a.is_number() && b.is_number()) return a == b;
    if (a.type() != b.type()) return false;
    if (a.is_object()) {
      if (a.size() != b.size()) return false;
      for (auto it = a.begin(); it != a.end(); ++it)
        if (!b.contains(it.key()) || !equal(it.value(), b[it.key()])) return false;
      return true;
    }
    if (a.is_array()) {
      if (a.size() != b.size()) return false;
      for (size_t i = 0; i < a.size(); ++i)
        if (!equal(a[i], b[i])) return false;
      return true;
    }
    return a == b;
  }
  static bool is_type(const Json& v, const std::string& t) {
    if (t == "object") return v.is_object();
    if (t == "array") return v.is_array();
    if (t == "string") return v.is_string();
    if (t == "number") return v.is_number();
    if (t == "integer")
      return v.is_number_integer() || (v.is_number_float() && std::floor(v.get<double>()) == v.get<double>());
    if (t == "boolean") return v.is_boolean();
    if (t == "null") return v.is_null();
    return false;
  }
  static int days_in_month(int y, int m) {
    static const int d[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0)) return 29;
    return d[m - 1];
  }
  static bool digits(const std::string& s, size_t at, size_t n) {
    if (at + n > s.size()) return false;
    for (size_t i = at; i < at + n; ++i)
      if (s[i] < '0' || s[i] > '9') return false;
    return true;
  }
  static int num(const std::string& s, size_t at, size_t n) { return std::stoi(s.substr(at, n)); }
  static bool date_ok(const std::string& s) {
    if (s.size() != 10 || !digits(s, 0, 4) || s[4] != '-' || !digits(s, 5, 2) || s[7] != '-' || !digits(s, 8, 2))
      return false;
    int y = num(s, 0, 4), m = num(s, 5, 2), d = num(s, 8, 2);
    return y >= 1 && m >= 1 && m <= 12 && d >= 1 && d <= days_in_month(y, m);
  }
  static bool time_ok(const std::string& s) {
    if (s.size() < 9 || !digits(s, 0, 2) || s[2] != ':' || !digits(s, 3, 2) || s[5] != ':' || !digits(s, 6, 2)) return false;
    if (num(s, 0, 2) > 23 || num(s, 3, 2) > 59 || num(s, 6, 2) > 59) return false;
    size_t i = 8;
    if (s[i] == '.') {
      size_t j = i + 1;
      while (j < s.size() && s[j] >= '0' && s[j] <= '9') ++j;
      if (j == i + 1) return false;
      i = j;
    }
    std::string zone = s.substr(i);
    if (zone == "Z") return true;
    return zone.size() == 6 && (zone[0] == '+' || zone[0] == '-') && digits(zone, 1, 2) && zone[3] == ':' &&
           digits(zone, 4, 2) && num(zone, 1, 2) <= 23 && num(zone, 4, 2) <= 59;
  }
  static bool format_ok(const std::string& f, const std::string& s) {
    if (f == "date") return date_ok(s);
    if (f == "time") return time_ok(s);
    if (f == "date-time") {
      size_t t = s.find('T');
      return t == 10 && date_ok(s.substr(0, 10)) && time_ok(s.substr(11));
    }
    if (f == "uuid") {
      if (s.size() != 36) return false;
      for (size_t i = 0; i < 36; ++i) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? s[i] != '-' : !std::isxdigit(uint8_t(s[i]))) return false;
      }
      return true;
    }
    if (f == "email") {
      size_t at = s.find('@');
      return at != std::string::npos && at > 0 && s.find('@', at + 1) == std::string::npos &&
             s.find('.', at) != std::string::npos && s.back() != '.';
    }
    if (f == "ipv4") {
      int parts = 0;
      size_t i = 0;
      while (i <= s.size()) {
        size_t j = s.find('.', i);
        if (j == std::string::npos) j = s.size();
        std::string p = s.substr(i, j - i);
        if (p.empty() || p.size() > 3 || !digits(p, 0, p.size()) || (p.size() > 1 && p[0] == '0') || std::stoi(p) > 255)
          return false;
        ++parts;
        i = j + 1;
      }
      return parts == 4;
    }
    return false;
  }
  static double as_double(const Json& v) { return v.get<double>(); }

  std::string check(const Json& v, const Json& s, const std::string& at, int depth) const {
    if (depth > 200) return "too deep";
    if (s.is_boolean()) return s.get<bool>() ? "" : at + ": false schema";
    if (s.contains("$ref")) {
      std::string ref = s["$ref"];
      std::string r = check(v, root_.at(Json::json_pointer(ref.substr(1))), at, depth + 1);
      if (!r.empty()) return r;
    }
    if (s.contains("allOf"))
      for (const Json& m : s["allOf"]) {
        std::string r = check(v, m, at, depth + 1);
        if (!r.empty()) return r;
      }
    const bool nullable = s.value("nullable", false);
    if (s.contains("anyOf")) {
      bool ok = nullable && v.is_null();
      for (const Json& m : s["anyOf"]) ok = ok || check(v, m, at, depth + 1).empty();
      if (!ok) return at + ": no anyOf alternative matches";
    }
    if (s.contains("oneOf")) {
      int n = nullable && v.is_null();
      for (const Json& m : s["oneOf"]) n += check(v, m, at, depth + 1).empty();
      if (n != 1) return at + ": " + std::to_string(n) + " oneOf alternatives match";
    }
    if (s.contains("const") && !equal(v, s["const"])) return at + ": not the const";
    if (s.contains("enum")) {
      bool found = false;
      for (const Json& e : s["enum"]) found = found || equal(e, v);
      if (!found) return at + ": not in enum";
    }
    if (s.contains("type")) {
      bool ok = nullable && v.is_null();
      if (s["type"].is_string()) ok = ok || is_type(v, s["type"]);
      else
        for (const Json& t : s["type"]) ok = ok || is_type(v, t);
      if (!ok) return at + ": wrong type";
    }
    if (v.is_number()) {
      const double x = as_double(v);
      const bool d4min = s.contains("exclusiveMinimum") && s["exclusiveMinimum"].is_boolean() && s["exclusiveMinimum"].get<bool>();
      const bool d4max = s.contains("exclusiveMaximum") && s["exclusiveMaximum"].is_boolean() && s["exclusiveMaximum"].get<bool>();
      if (s.contains("minimum") && (d4min ? !(x > as_double(s["minimum"])) : !(x >= as_double(s["minimum"]))))
        return at + ": below minimum";
      if (s.contains("maximum") && (d4max ? !(x < as_double(s["maximum"])) : !(x <= as_double(s["maximum"]))))
        return at + ": above maximum";
      if (s.contains("exclusiveMinimum") && s["exclusiveMinimum"].is_number() && !(x > as_double(s["exclusiveMinimum"])))
        return at + ": not above exclusiveMinimum";
      if (s.contains("exclusiveMaximum") && s["exclusiveMaximum"].is_number() && !(x < as_double(s["exclusiveMaximum"])))
        return at + ": not below exclusiveMaximum";
    }
    if (v.is_string()) {
      const std::string& str = v.get_ref<const std::string&>();
      const size_t n = code_points(str);
      if (s.contains("minLength") && n < s["minLength"].get<size_t>()) return at + ": too short";
      if (s.contains("maxLength") && n > s["maxLength"].get<size_t>()) return at + ": too long";
      if (s.contains("pattern") && ascii(str) && !std::regex_search(str, std::regex(s["pattern"].get<std::string>())))
        return at + ": does not match the pattern";
      if (s.contains("format") && !format_ok(s["format"], str)) return at + ": not a " + s["format"].get<std::string>();
    }
    if (v.is_object()) {
      const Json props = s.value("properties", Json::object());
      for (auto it = v.begin(); it != v.end(); ++it) {
        std::string r;
        if (props.contains(it.key())) r = check(it.value(), props[it.key()], at + "/" + it.key(), depth + 1);
        else if (s.contains("additionalProperties"))
          r = check(it.value(), s["additionalProperties"], at + "/" + it.key(), depth + 1);
        if (!r.empty()) return r;
      }
      for (const Json& r : s.value("required", Json::array()))
        if (!v.contains(r.get<std::string>())) return at + ": missing " + r.get<std::string>();
    }
    if (v.is_array()) {
      if (s.contains("minItems") && v.size() < s["minItems"].get<size_t>()) return at + ": too few items";
      if (s.contains("maxItems") && v.size() > s["maxItems"].get<size_t>()) return at + ": too many items";
      Json prefix = s.contains("prefixItems") ? s["prefixItems"] : (s.contains("items") && s["items"].is_array() ? s["items"] : Json::array());
      const Json* rest = s.contains("prefixItems") ? (s.contains("items") ? &s["items"] : nullptr)
                         : (s.contains("items") && s["items"].is_array()) ? (s.contains("additionalItems") ? &s["additionalItems"] : nullptr)
                         : (s.contains("items") ? &s["items"] : nullptr);
      for (size_t i = 0; i < v.size(); ++i) {
        std::string r;
        if (i < prefix.size()) r = check(v[i], prefix[i], at + "/" + std::to_string(i), depth + 1);
        else if (rest) r = check(v[i], *rest, at + "/" + std::to_string(i), depth + 1);
        if (!r.empty()) return r;
      }
    }
    return "";
  }

  Json root_;
};

}  // namespace g4::testing
