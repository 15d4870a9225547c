#include "runtime/detokenizer.h"

#include <utility>

#include "core/error.h"

namespace g4 {

namespace {
const char kReplacement[] = "\xEF\xBF\xBD";
}

int utf8_sequence_at(std::string_view s, size_t i) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  if (b0 < 0x80) return 1;
  int len;
  unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    len = 2;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    len = 3;
    if (b0 == 0xE0) lo = 0xA0;
    if (b0 == 0xED) hi = 0x9F;  // no UTF-16 surrogates
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    len = 4;
    if (b0 == 0xF0) lo = 0x90;
    if (b0 == 0xF4) hi = 0x8F;  // <= U+10FFFF
  } else {
    return -1;  // continuation byte, C0/C1 or F5..FF
  }
  for (int k = 1; k < len; ++k) {
    if (i + k >= s.size()) return 0;
    const auto b = static_cast<unsigned char>(s[i + k]);
    const unsigned char l = k == 1 ? lo : 0x80, h = k == 1 ? hi : 0xBF;
    if (b < l || b > h) return -k;
  }
  return len;
}

std::string sanitize_utf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    int n = utf8_sequence_at(s, i);
    if (n > 0) {
      out.append(s.substr(i, n));
      i += n;
    } else if (n < 0) {
      out += kReplacement;
      i += size_t(-n);
    } else {
      out += kReplacement;  // truncated at the end
      break;
    }
  }
  return out;
}

IncrementalDetokenizer::IncrementalDetokenizer(TokenBytes token_bytes)
    : token_bytes_(std::move(token_bytes)) {
  check(bool(token_bytes_), "IncrementalDetokenizer: no token_bytes function given");
}

std::string IncrementalDetokenizer::push(int32_t id) { return push_bytes(token_bytes_(id)); }

std::string IncrementalDetokenizer::push_bytes(std::string_view bytes) {
  if (bytes.empty()) return {};
  std::string buf;
  buf.reserve(pending_.size() + bytes.size());
  buf += pending_;
  buf.append(bytes);
  pending_.clear();
  std::string out;
  out.reserve(buf.size());
  size_t i = 0;
  while (i < buf.size()) {
    int n = utf8_sequence_at(buf, i);
    if (n > 0) {
      out.append(buf, i, size_t(n));
      i += size_t(n);
    } else if (n < 0) {
      out += kReplacement;
      i += size_t(-n);
    } else {
      pending_.assign(buf, i, std::string::npos);
      break;
    }
  }
  return out;
}

std::string IncrementalDetokenizer::flush() {
  std::string out = pending_.empty() ? std::string() : sanitize_utf8(pending_);
  pending_.clear();
  return out;
}

}  // namespace g4
