#include "runtime/stop.h"

#include <gtest/gtest.h>

#include <random>

namespace g4 {
namespace {

// Streams `pieces` (token ids 1000+i) and returns everything emitted until the stop.
std::string run(StopDetector& d, const std::vector<std::string>& pieces) {
  std::string out;
  for (size_t i = 0; i < pieces.size(); ++i) {
    auto s = d.push(int32_t(1000 + i), pieces[i]);
    out += s.text;
    if (s.stop) return out;
  }
  return out + d.flush();
}

TEST(Stop, EogTokensStopWithoutText) {
  StopDetector d(StopConfig{});
  auto a = d.push(5, "Hi");
  EXPECT_EQ(a.text, "Hi");
  EXPECT_FALSE(a.stop);
  auto b = d.push(106, "<turn|>");
  EXPECT_TRUE(b.stop);
  EXPECT_EQ(b.text, "");
  EXPECT_EQ(d.reason(), StopReason::EndOfGeneration);
  EXPECT_STREQ(stop_reason_name(d.reason()), "eog");
  for (int32_t id : {1, 50, 106}) EXPECT_TRUE(d.is_eog(id));
  EXPECT_FALSE(d.is_eog(2));
}

TEST(Stop, StopStringHoldBack) {
  StopConfig c;
  c.stop_strings = {"STOP"};
  StopDetector d(c);
  std::string emitted;
  for (std::string piece : {"Hello wor", "ld! ST", "O", "P and more"}) {
    auto s = d.push(9, piece);
    EXPECT_EQ(s.text.find('S'), std::string::npos) << "leaked part of the stop string";
    emitted += s.text;
    if (s.stop) break;
  }
  EXPECT_EQ(emitted, "Hello world! ");
  EXPECT_EQ(d.reason(), StopReason::StopString);
  EXPECT_EQ(d.matched_stop_string(), "STOP");
  EXPECT_STREQ(stop_reason_name(d.reason()), "stop");
}

TEST(Stop, HeldTextReleasedWhenItDoesNotMatch) {
  StopConfig c;
  c.stop_strings = {"STOP"};
  StopDetector d(c);
  auto a = d.push(9, "a ST");
  EXPECT_EQ(a.text, "a ");
  auto b = d.push(9, "AY");
  EXPECT_EQ(b.text, "STAY");
  auto e = d.push(9, " ST");
  EXPECT_EQ(e.text, " ");
  EXPECT_EQ(d.flush(), "ST");
}

TEST(Stop, EarliestStopStringWins) {
  StopConfig c;
  c.stop_strings = {"world", "lo w", "xyz"};
  StopDetector d(c);
  EXPECT_EQ(run(d, {"hello world"}), "hel");
  EXPECT_EQ(d.matched_stop_string(), "lo w");
}

TEST(Stop, ByteByByteEqualsWhole) {
  StopConfig c;
  c.stop_strings = {"\n\nUser:", "</answer>"};
  const std::string text = "The answer is <b>42</b>.\n\nUs\n\nUser: next";
  StopDetector whole(c);
  std::string a = run(whole, {text});
  std::vector<std::string> bytes;
  for (char ch : text) bytes.emplace_back(1, ch);
  StopDetector split(c);
  std::string b = run(split, bytes);
  EXPECT_EQ(a, "The answer is <b>42</b>.\n\nUs");
  EXPECT_EQ(a, b);
  // random chunkings
  std::mt19937 rng(5);
  for (int t = 0; t < 50; ++t) {
    std::vector<std::string> chunks;
    for (size_t i = 0; i < text.size();) {
      size_t n = 1 + rng() % 6;
      chunks.push_back(text.substr(i, n));
      i += n;
    }
    StopDetector d(c);
    EXPECT_EQ(run(d, chunks), a);
  }
}

TEST(Stop, MaxTokensReleasesHeldText) {
  StopConfig c;
  c.stop_strings = {"STOP"};
  c.max_tokens = 2;
  StopDetector d(c);
  auto a = d.push(9, "ab S");
  EXPECT_FALSE(a.stop);
  EXPECT_EQ(a.text, "ab ");
  auto b = d.push(9, "T");
  EXPECT_TRUE(b.stop);
  EXPECT_EQ(b.text, "ST");
  EXPECT_EQ(d.reason(), StopReason::MaxTokens);
  EXPECT_STREQ(stop_reason_name(d.reason()), "length");
  EXPECT_EQ(d.n_tokens(), 2);
  EXPECT_TRUE(d.push(9, "x").stop);  // stays stopped
  StopConfig z;
  z.max_tokens = 0;
  EXPECT_TRUE(StopDetector(z).exhausted());
}

TEST(Stop, EogReleasesHeldText) {
  StopConfig c;
  c.stop_strings = {"STOP"};
  StopDetector d(c);
  EXPECT_EQ(d.push(9, "x ST").text, "x ");
  auto e = d.push(1, "");
  EXPECT_TRUE(e.stop);
  EXPECT_EQ(e.text, "ST");
}

TEST(Stop, PartialMatchSuffix) {
  EXPECT_EQ(partial_match_suffix("abc<|to", {"<|tool_call>"}), 4u);
  EXPECT_EQ(partial_match_suffix("abc<", {"<|tool_call>", "<turn|>"}), 1u);
  EXPECT_EQ(partial_match_suffix("abc", {"<|tool_call>"}), 0u);
  EXPECT_EQ(partial_match_suffix("x<|tool_call>", {"<|tool_call>"}), 0u);  // full match is not partial
  EXPECT_EQ(partial_match_suffix("aaa", {"aaab"}), 3u);
  EXPECT_EQ(partial_match_suffix("", {"ab"}), 0u);
}

}  // namespace
}  // namespace g4
