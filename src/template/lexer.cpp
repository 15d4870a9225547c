#include "template/lexer.h"

#include <algorithm>
#include <cmath>
#include <cerrno>
#include <cstdlib>

#include "core/error.h"
#include "template/value.h"

namespace g4::tpl {

SourceMap::SourceMap(const std::string& src) : src_(src) {
  line_starts_.push_back(0);
  for (size_t i = 0; i < src.size(); ++i)
    if (src[i] == '\n') line_starts_.push_back(i + 1);
}

void SourceMap::locate(size_t offset, int& line, int& col) const {
  offset = std::min(offset, src_.size());
  auto it = std::upper_bound(line_starts_.begin(), line_starts_.end(), offset);
  size_t idx = static_cast<size_t>(it - line_starts_.begin()) - 1;
  line = static_cast<int>(idx) + 1;
  size_t from = line_starts_[idx];
  int c = 1;
  if (last_line_ == line && last_offset_ >= from && last_offset_ <= offset) {
    from = last_offset_;
    c = last_col_;
  }
  for (size_t i = from; i < offset; ++i)
    if ((static_cast<unsigned char>(src_[i]) & 0xC0) != 0x80) ++c;
  col = c;
  last_offset_ = offset;
  last_line_ = line;
  last_col_ = c;
}

std::string normalize_template_source(const std::string& source) {
  std::string out;
  out.reserve(source.size());
  for (size_t i = 0; i < source.size(); ++i) {
    char c = source[i];
    if (c == '\r') {
      out += '\n';
      if (i + 1 < source.size() && source[i + 1] == '\n') ++i;
    } else {
      out += c;
    }
  }
  if (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

namespace {

bool is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

bool all_py_space(const std::string& s, size_t from) {
  if (from >= s.size()) return false;
  std::string tail = s.substr(from);
  for (uint32_t cp : utf8_decode(tail))
    if (!py_isspace(cp)) return false;
  return true;
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_name_start(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || static_cast<unsigned char>(c) >= 0x80;
}
bool is_name_char(char c) { return is_name_start(c) || is_digit(c); }

int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

class Lexer {
 public:
  Lexer(const std::string& src, const std::string& origin) : src_(src), n_(src.size()), map_(src), origin_(origin) {}

  std::vector<Token> run() {
    bool line_starting = true;
    size_t pos = 0;
    while (pos < n_) {
      size_t p = find_tag_start(pos);
      if (p == std::string::npos) {
        emit_text(src_.substr(pos), pos);
        break;
      }
      char kind = src_[p + 1];
      size_t q = p + 2;
      char sign = 0;
      if (q < n_ && (src_[q] == '-' || src_[q] == '+')) sign = src_[q++];
      size_t raw_end = 0;
      bool raw = kind == '%' && match_raw_begin(p, raw_end);
      std::string text = src_.substr(pos, p - pos);
      text = strip_before(std::move(text), sign, kind != '{', line_starting);
      emit_text(text, pos);

      if (raw) {
        line_starting = src_[raw_end - 1] == '\n';
        pos = lex_raw_body(raw_end, line_starting, p);
        line_starting = src_[pos - 1] == '\n';
      } else if (kind == '#') {
        pos = skip_comment(q, p);
        line_starting = src_[pos - 1] == '\n';
      } else {
        push(kind == '%' ? Tok::BlockBegin : Tok::VarBegin, src_.substr(p, q - p), p);
        pos = lex_tag(q, kind == '%', p);
        line_starting = src_[pos - 1] == '\n';
      }
    }
    Token eof;
    eof.type = Tok::Eof;
    map_.locate(n_, eof.line, eof.col);
    tokens_.push_back(eof);
    return std::move(tokens_);
  }

 private:
  [[noreturn]] void fail(size_t offset, const std::string& msg) const {
    int line, col;
    map_.locate(offset, line, col);
    throw Error(origin_ + ":" + std::to_string(line) + ":" + std::to_string(col) + ": " + msg);
  }

  void push(Tok type, std::string text, size_t offset) {
    Token t;
    t.type = type;
    t.text = std::move(text);
    map_.locate(offset, t.line, t.col);
    tokens_.push_back(std::move(t));
  }

  void emit_text(const std::string& text, size_t offset) {
    if (!text.empty()) push(Tok::Text, text, offset);
  }

  bool starts(size_t pos, const char* s) const {
    size_t len = std::char_traits<char>::length(s);
    return pos + len <= n_ && src_.compare(pos, len, s) == 0;
  }

  size_t skip_ws(size_t pos) const {
    while (pos < n_ && is_ws(src_[pos])) ++pos;
    return pos;
  }

  // Python's \s* after "-%}" etc.: strips all whitespace.
  size_t skip_all_space(size_t pos) const {
    while (pos < n_) {
      unsigned char c = static_cast<unsigned char>(src_[pos]);
      if (is_ws(static_cast<char>(c)) || (c >= 0x1C && c <= 0x1F)) {
        ++pos;
      } else if (c == 0xC2 && pos + 1 < n_ &&
                 (static_cast<unsigned char>(src_[pos + 1]) == 0x85 || static_cast<unsigned char>(src_[pos + 1]) == 0xA0)) {
        pos += 2;
      } else {
        break;
      }
    }
    return pos;
  }

  size_t find_tag_start(size_t pos) const {
    size_t p = src_.find('{', pos);
    while (p != std::string::npos) {
      if (p + 1 < n_ && (src_[p + 1] == '{' || src_[p + 1] == '%' || src_[p + 1] == '#')) return p;
      p = src_.find('{', p + 1);
    }
    return std::string::npos;
  }

  std::string strip_before(std::string text, char sign, bool lstrip_applies, bool line_starting) const {
    if (sign == '-') return str_strip(text, nullptr, false, true);
    if (sign != '+' && lstrip_applies) {
      size_t nl = text.rfind('\n');
      size_t l_pos = nl == std::string::npos ? 0 : nl + 1;
      if ((l_pos > 0 || line_starting) && all_py_space(text, l_pos)) text.resize(l_pos);
    }
    return text;
  }

  // {%[-+]?\s*raw\s*(-%}\s*|%})
  bool match_raw_begin(size_t p, size_t& end) const {
    size_t r = p + 2;
    if (r < n_ && (src_[r] == '-' || src_[r] == '+')) ++r;
    r = skip_ws(r);
    if (!starts(r, "raw")) return false;
    r = skip_ws(r + 3);
    if (starts(r, "-%}")) {
      end = skip_all_space(r + 3);
      return true;
    }
    if (starts(r, "%}")) {
      end = r + 2;
      return true;
    }
    return false;
  }

  size_t lex_raw_body(size_t pos, bool line_starting, size_t begin) {
    size_t p = pos;
    while (true) {
      p = src_.find("{%", p);
      if (p == std::string::npos) fail(begin, "Missing end of raw directive");
      size_t r = p + 2;
      char sign = 0;
      if (r < n_ && (src_[r] == '-' || src_[r] == '+')) sign = src_[r++];
      r = skip_ws(r);
      if (starts(r, "endraw")) {
        r = skip_ws(r + 6);
        size_t end = 0;
        if (starts(r, "+%}")) end = r + 3;
        else if (starts(r, "-%}")) end = skip_all_space(r + 3);
        else if (starts(r, "%}")) end = r + 2 + (r + 2 < n_ && src_[r + 2] == '\n' ? 1 : 0);
        if (end) {
          std::string text = strip_before(src_.substr(pos, p - pos), sign, true, line_starting);
          emit_text(text, pos);
          return end;
        }
      }
      p += 2;
    }
  }

  size_t skip_comment(size_t pos, size_t begin) const {
    for (size_t i = pos; i < n_; ++i) {
      if (starts(i, "+#}")) return i + 3;
      if (starts(i, "-#}")) return skip_all_space(i + 3);
      if (starts(i, "#}")) return i + 2 + (i + 2 < n_ && src_[i + 2] == '\n' ? 1 : 0);
    }
    fail(begin, "Missing end of comment tag");
  }

  size_t scan_digits(size_t pos) const {  // (\d+_)*\d+ ; returns pos if no match
    if (pos >= n_ || !is_digit(src_[pos])) return pos;
    size_t p = pos;
    while (true) {
      while (p < n_ && is_digit(src_[p])) ++p;
      if (p + 1 < n_ && src_[p] == '_' && is_digit(src_[p + 1])) {
        ++p;
        continue;
      }
      return p;
    }
  }

  static std::string strip_underscores(const std::string& s) {
    std::string o;
    for (char c : s)
      if (c != '_') o += c;
    return o;
  }

  size_t lex_number(size_t pos) {
    // float: (?<!\.)(\d+_)*\d+((\.(\d+_)*\d+)?e[+\-]?(\d+_)*\d+|\.(\d+_)*\d+)
    if (pos == 0 || src_[pos - 1] != '.') {
      size_t p = scan_digits(pos);
      size_t frac_end = p;
      if (p < n_ && src_[p] == '.') {
        size_t f = scan_digits(p + 1);
        if (f > p + 1) frac_end = f;
      }
      size_t exp_end = frac_end;
      if (frac_end < n_ && (src_[frac_end] == 'e' || src_[frac_end] == 'E')) {
        size_t e = frac_end + 1;
        if (e < n_ && (src_[e] == '+' || src_[e] == '-')) ++e;
        size_t d = scan_digits(e);
        if (d > e) exp_end = d;
      }
      if (exp_end > p) {
        std::string s = strip_underscores(src_.substr(pos, exp_end - pos));
        Token t;
        t.type = Tok::Float;
        t.text = s;
        t.fval = std::strtod(s.c_str(), nullptr);
        map_.locate(pos, t.line, t.col);
        tokens_.push_back(t);
        return exp_end;
      }
    }
    // integer: 0b.. | 0o.. | 0x.. | [1-9](_?\d)* | 0(_?0)*
    size_t p = pos;
    int base = 10;
    if (src_[pos] == '0' && pos + 1 < n_) {
      char x = static_cast<char>(src_[pos + 1] | 0x20);
      base = x == 'b' ? 2 : x == 'o' ? 8 : x == 'x' ? 16 : 10;
    }
    std::string digits;
    if (base != 10) {
      size_t q = pos + 2;
      while (q < n_) {
        size_t r = q;
        if (src_[r] == '_') ++r;
        if (r < n_ && hexval(src_[r]) >= 0 && hexval(src_[r]) < base) {
          digits += src_[r];
          q = r + 1;
        } else {
          break;
        }
      }
      if (digits.empty()) {
        base = 10;
      } else {
        p = q;
      }
    }
    if (base == 10) {
      p = pos + 1;
      digits = src_.substr(pos, 1);
      if (src_[pos] == '0') {
        while (p < n_) {
          size_t r = p;
          if (src_[r] == '_') ++r;
          if (r < n_ && src_[r] == '0') p = r + 1;
          else break;
        }
      } else {
        while (p < n_) {
          size_t r = p;
          if (src_[r] == '_') ++r;
          if (r < n_ && is_digit(src_[r])) {
            digits += src_[r];
            p = r + 1;
          } else {
            break;
          }
        }
      }
    }
    Token t;
    map_.locate(pos, t.line, t.col);
    errno = 0;
    unsigned long long v = std::strtoull(digits.c_str(), nullptr, base);
    if (errno == ERANGE || v > static_cast<unsigned long long>(INT64_MAX)) {
      t.type = Tok::Float;  // beyond int64: approximate as a float
      t.fval = static_cast<double>(v);
      if (errno == ERANGE) t.fval = std::strtod(digits.c_str(), nullptr);
    } else {
      t.type = Tok::Int;
      t.ival = static_cast<int64_t>(v);
    }
    t.text = src_.substr(pos, p - pos);
    tokens_.push_back(t);
    return p;
  }

  size_t lex_string(size_t pos) {
    char q = src_[pos];
    std::string raw;
    size_t p = pos + 1;
    while (true) {
      if (p >= n_) fail(pos, "unexpected char '" + std::string(1, q) + "' (unterminated string literal)");
      char c = src_[p];
      if (c == '\\') {
        if (p + 1 >= n_) fail(pos, "unterminated string literal");
        raw += c;
        raw += src_[p + 1];
        p += 2;
        continue;
      }
      if (c == q) break;
      raw += c;
      ++p;
    }
    Token t;
    t.type = Tok::String;
    t.text = unescape(raw, pos);
    map_.locate(pos, t.line, t.col);
    tokens_.push_back(t);
    return p + 1;
  }

  // Python's unicode-escape decoding.
  std::string unescape(const std::string& s, size_t at) const {
    std::string out;
    for (size_t i = 0; i < s.size(); ++i) {
      char c = s[i];
      if (c != '\\' || i + 1 >= s.size()) {
        out += c;
        continue;
      }
      char e = s[++i];
      switch (e) {
        case '\n':
          break;
        case '\\':
          out += '\\';
          break;
        case '\'':
          out += '\'';
          break;
        case '"':
          out += '"';
          break;
        case 'a':
          out += '\a';
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'n':
          out += '\n';
          break;
        case 'r':
          out += '\r';
          break;
        case 't':
          out += '\t';
          break;
        case 'v':
          out += '\v';
          break;
        case 'x':
        case 'u':
        case 'U': {
          int len = e == 'x' ? 2 : e == 'u' ? 4 : 8;
          uint32_t cp = 0;
          for (int k = 0; k < len; ++k) {
            if (i + 1 >= s.size() || hexval(s[i + 1]) < 0)
              fail(at, std::string("truncated \\") + e + " escape in string literal");
            cp = cp * 16 + static_cast<uint32_t>(hexval(s[++i]));
          }
          if (cp > 0x10FFFF) fail(at, "illegal Unicode character in string literal");
          utf8_append(out, cp);
          break;
        }
        case 'N':
          fail(at, "\\N{...} escapes are not supported");
        default:
          if (e >= '0' && e <= '7') {
            uint32_t cp = static_cast<uint32_t>(e - '0');
            for (int k = 0; k < 2 && i + 1 < s.size() && s[i + 1] >= '0' && s[i + 1] <= '7'; ++k)
              cp = cp * 8 + static_cast<uint32_t>(s[++i] - '0');
            utf8_append(out, cp);
          } else {
            out += '\\';
            out += e;
          }
      }
    }
    return out;
  }

  size_t lex_tag(size_t pos, bool block, size_t begin) {
    std::vector<char> balance;
    while (true) {
      if (pos >= n_)
        fail(begin, block ? "unexpected end of template, expected end of statement block ('%}')"
                          : "unexpected end of template, expected end of print statement ('}}')");
      if (balance.empty()) {
        size_t end = 0;
        if (block) {
          if (starts(pos, "+%}")) end = pos + 3;
          else if (starts(pos, "-%}")) end = skip_all_space(pos + 3);
          else if (starts(pos, "%}")) end = pos + 2 + (pos + 2 < n_ && src_[pos + 2] == '\n' ? 1 : 0);
        } else {
          if (starts(pos, "-}}")) end = skip_all_space(pos + 3);
          else if (starts(pos, "}}")) end = pos + 2;
        }
        if (end) {
          push(block ? Tok::BlockEnd : Tok::VarEnd, "", pos);
          return end;
        }
      }
      char c = src_[pos];
      if (is_ws(c)) {
        ++pos;
        continue;
      }
      if (is_digit(c)) {
        pos = lex_number(pos);
        continue;
      }
      if (is_name_start(c)) {
        size_t p = pos;
        while (p < n_ && is_name_char(src_[p])) ++p;
        push(Tok::Name, src_.substr(pos, p - pos), pos);
        pos = p;
        continue;
      }
      if (c == '\'' || c == '"') {
        pos = lex_string(pos);
        continue;
      }
      static const char* two[] = {"//", "**", "==", "!=", ">=", "<="};
      std::string op;
      for (const char* t : two)
        if (starts(pos, t)) op = t;
      if (op.empty()) {
        static const std::string singles = "+-/*%~[](){}><=.:|,;";
        if (singles.find(c) == std::string::npos) {
          std::string shown = c == '\'' ? "\\'" : std::string(1, c);
          fail(pos, "unexpected char '" + shown + "'");
        }
        op = std::string(1, c);
      }
      if (op == "{" || op == "(" || op == "[") {
        balance.push_back(op == "{" ? '}' : op == "(" ? ')' : ']');
      } else if (op == "}" || op == ")" || op == "]") {
        if (balance.empty()) fail(pos, "unexpected '" + op + "'");
        char expected = balance.back();
        balance.pop_back();
        if (expected != op[0]) fail(pos, "unexpected '" + op + "', expected '" + std::string(1, expected) + "'");
      }
      push(Tok::Op, op, pos);
      pos += op.size();
    }
  }

  const std::string& src_;
  size_t n_;
  SourceMap map_;
  const std::string& origin_;
  std::vector<Token> tokens_;
};

}  // namespace

std::vector<Token> tokenize(const std::string& normalized_source, const std::string& origin) {
  return Lexer(normalized_source, origin).run();
}

}  // namespace g4::tpl
