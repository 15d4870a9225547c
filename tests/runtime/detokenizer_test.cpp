#include "runtime/detokenizer.h"

#include <gtest/gtest.h>

#include <random>

namespace g4 {
namespace {

// A toy vocabulary: ids 238..493 are Gemma's byte-fallback tokens <0x00>..<0xFF>; others from a map.
std::string toy_bytes(int32_t id) {
  if (id >= 238 && id < 238 + 256) return std::string(1, char(id - 238));
  switch (id) {
    case 1: return "Hello";
    case 2: return " world";
    case 3: return "\xC3\xA9t\xC3\xA9";  // "été"
    case 4: return "\xF0\x9F";           // first half of an emoji (a broken token on purpose)
    case 5: return "\x98\x80!";          // second half + "!"
    default: return "";
  }
}

int32_t byte_tok(uint8_t b) { return 238 + b; }

TEST(Detokenizer, PlainTokens) {
  IncrementalDetokenizer d(toy_bytes);
  EXPECT_EQ(d.push(1), "Hello");
  EXPECT_EQ(d.push(2), " world");
  EXPECT_EQ(d.push(3), "\xC3\xA9t\xC3\xA9");
  EXPECT_EQ(d.flush(), "");
}

TEST(Detokenizer, TwoByteCharacterSplitAcrossByteTokens) {
  IncrementalDetokenizer d(toy_bytes);
  EXPECT_EQ(d.push(byte_tok(0xC3)), "");
  EXPECT_EQ(d.pending_size(), 1u);
  EXPECT_EQ(d.push(byte_tok(0xA9)), "\xC3\xA9");
  EXPECT_EQ(d.pending_size(), 0u);
}

TEST(Detokenizer, EmojiSplitIntoFourByteTokens) {
  IncrementalDetokenizer d(toy_bytes);
  const std::string emoji = "\xF0\x9F\x98\x80";  // U+1F600
  std::string out;
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(d.push(byte_tok(uint8_t(emoji[i]))), "");
  EXPECT_EQ(d.push(byte_tok(uint8_t(emoji[3]))), emoji);
}

TEST(Detokenizer, SplitAcrossMultiByteTokens) {
  IncrementalDetokenizer d(toy_bytes);
  EXPECT_EQ(d.push(1), "Hello");
  EXPECT_EQ(d.push(4), "");
  EXPECT_EQ(d.push(5), "\xF0\x9F\x98\x80!");
}

TEST(Detokenizer, InvalidBytesBecomeReplacement) {
  const std::string fffd = "\xEF\xBF\xBD";
  IncrementalDetokenizer d(toy_bytes);
  EXPECT_EQ(d.push(byte_tok(0xFF)), fffd);  // can never be valid: replaced at once
  EXPECT_EQ(d.push(byte_tok(0xE2)), "");
  EXPECT_EQ(d.push(byte_tok(0x82)), "");
  EXPECT_EQ(d.push(byte_tok('A')), fffd + "A");  // E2 82 then 'A': one U+FFFD for the subpart
  EXPECT_EQ(d.push(byte_tok(0xF0)), "");
  EXPECT_EQ(d.flush(), fffd);  // unfinished at the end
  EXPECT_EQ(d.flush(), "");
  // surrogates and overlongs are invalid
  EXPECT_EQ(sanitize_utf8("\xED\xA0\x80"), fffd + fffd + fffd);
  EXPECT_EQ(sanitize_utf8("\xC0\xAF"), fffd + fffd);
  EXPECT_EQ(sanitize_utf8("a\xF4\x90\x80\x80"), "a" + fffd + fffd + fffd + fffd);
}

TEST(Detokenizer, StreamingEqualsWholeOnRandomBytes) {
  std::mt19937 rng(1);
  const std::vector<std::string> alphabet = {"a", "\xC3", "\xA9", "\xE2\x82", "\xAC", "\xF0", "\x9F",
                                             "\x98", "\x80", "\xFF", "\xED", "\xA0", "z\xC3\xA9"};
  for (int t = 0; t < 300; ++t) {
    std::vector<std::string> toks;
    std::string all;
    int n = 1 + rng() % 20;
    for (int i = 0; i < n; ++i) {
      toks.push_back(alphabet[rng() % alphabet.size()]);
      all += toks.back();
    }
    IncrementalDetokenizer d([&](int32_t id) { return toks[id]; });
    std::string out;
    for (int i = 0; i < n; ++i) {
      std::string piece = d.push(i);
      ASSERT_EQ(sanitize_utf8(piece), piece) << "emitted invalid UTF-8";
      out += piece;
    }
    out += d.flush();
    EXPECT_EQ(out, sanitize_utf8(all));
  }
}

}  // namespace
}  // namespace g4
