#pragma once
// Minimal UTF-8 helpers for the tokenizer (no allocation, no locale).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace g4::utf8 {

// Decodes the code point starting at s[i] (i < n). Returns its byte length (1..4) and stores the code
// point in *cp. Invalid or truncated sequences (bad continuation, overlong forms, surrogates, > U+10FFFF)
// return 1 with *cp = 0xFFFFFFFF, so every byte of the input belongs to exactly one unit.
inline size_t decode(const unsigned char* s, size_t n, size_t i, uint32_t* cp) {
  unsigned c = s[i];
  if (c < 0x80) {
    *cp = c;
    return 1;
  }
  size_t len;
  uint32_t v, min;
  if ((c & 0xE0) == 0xC0) { len = 2; v = c & 0x1F; min = 0x80; }
  else if ((c & 0xF0) == 0xE0) { len = 3; v = c & 0x0F; min = 0x800; }
  else if ((c & 0xF8) == 0xF0) { len = 4; v = c & 0x07; min = 0x10000; }
  else { *cp = 0xFFFFFFFFu; return 1; }
  if (i + len > n) { *cp = 0xFFFFFFFFu; return 1; }
  for (size_t k = 1; k < len; ++k) {
    unsigned cc = s[i + k];
    if ((cc & 0xC0) != 0x80) { *cp = 0xFFFFFFFFu; return 1; }
    v = (v << 6) | (cc & 0x3F);
  }
  if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) { *cp = 0xFFFFFFFFu; return 1; }
  *cp = v;
  return len;
}

inline void append(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += char(cp);
  } else if (cp < 0x800) {
    out += char(0xC0 | (cp >> 6));
    out += char(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += char(0xE0 | (cp >> 12));
    out += char(0x80 | ((cp >> 6) & 0x3F));
    out += char(0x80 | (cp & 0x3F));
  } else {
    out += char(0xF0 | (cp >> 18));
    out += char(0x80 | ((cp >> 12) & 0x3F));
    out += char(0x80 | ((cp >> 6) & 0x3F));
    out += char(0x80 | (cp & 0x3F));
  }
}

// True when s is entirely valid UTF-8.
inline bool valid(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  for (size_t i = 0; i < s.size();) {
    uint32_t cp;
    size_t len = decode(p, s.size(), i, &cp);
    if (cp == 0xFFFFFFFFu) return false;
    i += len;
  }
  return true;
}

// Number of leading bytes of s that form complete UTF-8 characters (for streaming output: hold back an
// incomplete trailing sequence). Invalid bytes count as complete (they will never become valid).
inline size_t complete_prefix(std::string_view s) {
  size_t n = s.size();
  // Look back at most 3 bytes for the start of a multi-byte sequence.
  for (size_t back = 1; back <= 3 && back <= n; ++back) {
    unsigned c = static_cast<unsigned char>(s[n - back]);
    if ((c & 0xC0) == 0x80) continue;  // continuation byte: keep looking
    size_t need = (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 1;
    return need > back ? n - back : n;
  }
  return n;
}

}  // namespace g4::utf8
