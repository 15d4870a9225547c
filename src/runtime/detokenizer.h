#pragma once
// Incremental, UTF-8-safe detokenization for streaming. Tokens may end in the middle of a
// multi-byte character (byte-fallback tokens such as <0xE2>); push() returns only text that is
// complete, valid UTF-8 and holds back an unfinished character until its remaining bytes arrive.
// Bytes that can never become valid UTF-8 are replaced with U+FFFD as soon as that is certain
// (one U+FFFD per maximal invalid subpart, as the WHATWG/Unicode decoders do); an unfinished
// character still held at flush() becomes U+FFFD. The concatenation of every push() and flush()
// equals sanitize_utf8() of all the token bytes.
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace g4 {

class IncrementalDetokenizer {
 public:
  using TokenBytes = std::function<std::string(int32_t)>;
  explicit IncrementalDetokenizer(TokenBytes token_bytes);

  // Appends the bytes of token `id`; returns the newly completed text (possibly empty).
  std::string push(int32_t id);
  // Appends raw bytes (e.g. text injected by the host); same rules as push().
  std::string push_bytes(std::string_view bytes);
  // Ends the stream: returns what was held back, an unfinished character as U+FFFD.
  std::string flush();
  // Forgets held bytes.
  void reset() { pending_.clear(); }
  // Bytes currently held back (0..3).
  size_t pending_size() const { return pending_.size(); }

 private:
  TokenBytes token_bytes_;
  std::string pending_;
};

// Length of the valid UTF-8 sequence at s[i]: > 0 valid of that length; 0 = a valid prefix that
// is cut off by the end of `s`; < 0 = invalid, -n meaning the first n bytes form a maximal
// invalid subpart to replace with one U+FFFD.
int utf8_sequence_at(std::string_view s, size_t i);

// Replaces every invalid subpart (including a truncated final character) with U+FFFD.
std::string sanitize_utf8(std::string_view s);

}  // namespace g4
