#include "text/json_scan.h"

#include "core/error.h"
#include "text/utf8.h"

namespace g4 {

void JsonScanner::fail(const std::string& msg) const {
  throw Error(what_ + " (at byte " + std::to_string(pos_) + ": " + msg + ")");
}

void JsonScanner::expect(char c) {
  if (!consume(c)) fail(std::string("expected '") + c + "'");
}

static int hex4(std::string_view s, size_t at) {
  if (at + 4 > s.size()) return -1;
  int v = 0;
  for (size_t i = at; i < at + 4; ++i) {
    char c = s[i];
    int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
    if (d < 0) return -1;
    v = v * 16 + d;
  }
  return v;
}

void JsonScanner::string(std::string& out) {
  if (peek() != '"') fail("expected a string");
  ++pos_;
  while (true) {
    size_t start = pos_;
    while (pos_ < s_.size() && s_[pos_] != '"' && s_[pos_] != '\\') ++pos_;
    out.append(s_.substr(start, pos_ - start));
    if (pos_ >= s_.size()) fail("unterminated string");
    if (s_[pos_] == '"') {
      ++pos_;
      return;
    }
    // escape
    if (pos_ + 1 >= s_.size()) fail("unterminated escape");
    char e = s_[pos_ + 1];
    pos_ += 2;
    switch (e) {
      case '"': out += '"'; break;
      case '\\': out += '\\'; break;
      case '/': out += '/'; break;
      case 'b': out += '\b'; break;
      case 'f': out += '\f'; break;
      case 'n': out += '\n'; break;
      case 'r': out += '\r'; break;
      case 't': out += '\t'; break;
      case 'u': {
        int hi = hex4(s_, pos_);
        if (hi < 0) fail("bad \\u escape");
        pos_ += 4;
        uint32_t cp = uint32_t(hi);
        if (hi >= 0xD800 && hi <= 0xDBFF && pos_ + 6 <= s_.size() && s_[pos_] == '\\' && s_[pos_ + 1] == 'u') {
          int lo = hex4(s_, pos_ + 2);
          if (lo >= 0xDC00 && lo <= 0xDFFF) {
            cp = 0x10000 + ((uint32_t(hi) - 0xD800) << 10) + (uint32_t(lo) - 0xDC00);
            pos_ += 6;
          }
        }
        if (cp >= 0xD800 && cp <= 0xDFFF) cp = 0xFFFD;  // lone surrogate
        utf8::append(out, cp);
        break;
      }
      default:
        fail(std::string("bad escape \\") + e);
    }
  }
}

int64_t JsonScanner::integer() {
  skip_ws();
  size_t start = pos_;
  bool neg = pos_ < s_.size() && s_[pos_] == '-';
  if (neg) ++pos_;
  int64_t v = 0;
  size_t digits = 0;
  while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') {
    if (v > (INT64_MAX - 9) / 10) fail("integer too large");
    v = v * 10 + (s_[pos_] - '0');
    ++pos_;
    ++digits;
  }
  if (digits == 0) {
    pos_ = start;
    fail("expected an integer");
  }
  if (pos_ < s_.size() && (s_[pos_] == '.' || s_[pos_] == 'e' || s_[pos_] == 'E')) fail("expected an integer");
  return neg ? -v : v;
}

std::string_view JsonScanner::raw_value() {
  skip_ws();
  size_t start = pos_;
  int depth = 0;
  while (pos_ < s_.size()) {
    char c = s_[pos_];
    if (c == '"') {
      ++pos_;
      while (pos_ < s_.size() && s_[pos_] != '"') pos_ += s_[pos_] == '\\' ? 2 : 1;
      if (pos_ >= s_.size()) fail("unterminated string");
      ++pos_;
    } else if (c == '{' || c == '[') {
      ++depth;
      ++pos_;
    } else if (c == '}' || c == ']') {
      if (depth == 0) break;
      --depth;
      ++pos_;
    } else if (c == ',' && depth == 0) {
      break;
    } else {
      ++pos_;
    }
    if (depth == 0 && pos_ > start && (c == '"' || c == '}' || c == ']')) break;
  }
  if (depth != 0) fail("unbalanced brackets");
  // trim trailing whitespace of scalars
  size_t end = pos_;
  while (end > start && (s_[end - 1] == ' ' || s_[end - 1] == '\n' || s_[end - 1] == '\r' || s_[end - 1] == '\t')) --end;
  if (end == start) fail("expected a value");
  return s_.substr(start, end - start);
}

}  // namespace g4
