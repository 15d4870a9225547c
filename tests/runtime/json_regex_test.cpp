// The regex subset and the automaton operations under the JSON constraint. Expected matches are
// written from ECMA-262 semantics ("u" mode; JSON Schema's pattern is a search).
#include "runtime/json_regex.h"

#include <gtest/gtest.h>

#include <random>
#include <regex>

#include "core/error.h"

namespace g4::jsonc {
namespace {

bool search(const std::string& pattern, const std::string& s) { return compile_regex(pattern).matches(s); }

TEST(JsonRegex, LiteralsAnchorsAndSearch) {
  EXPECT_TRUE(search("abc", "abc"));
  EXPECT_TRUE(search("abc", "xxabcyy"));  // unanchored: a search
  EXPECT_FALSE(search("abc", "ab"));
  EXPECT_TRUE(search("^abc", "abcdef"));
  EXPECT_FALSE(search("^abc", "xabc"));
  EXPECT_TRUE(search("abc$", "xxabc"));
  EXPECT_FALSE(search("abc$", "abcx"));
  EXPECT_TRUE(search("^abc$", "abc"));
  EXPECT_FALSE(search("^abc$", "abcc"));
  EXPECT_TRUE(search("", "anything"));
  EXPECT_TRUE(search("^$", ""));
  EXPECT_FALSE(search("^$", "a"));
  // anchors per top-level alternative
  EXPECT_TRUE(search("^a$|^b$", "b"));
  EXPECT_FALSE(search("^a$|^b$", "ab"));
  EXPECT_TRUE(search("^a|b$", "axx"));
  EXPECT_TRUE(search("^a|b$", "xxb"));
  EXPECT_FALSE(search("^a|b$", "xax"));
}

TEST(JsonRegex, ClassesEscapesAndDot) {
  EXPECT_TRUE(search("^[a-c]+$", "abcab"));
  EXPECT_FALSE(search("^[a-c]+$", "abd"));
  EXPECT_TRUE(search("^[^a-c]$", "z"));
  EXPECT_TRUE(search("^[^a-c]$", "\xC3\xA9"));  // é is one character
  EXPECT_FALSE(search("^[^a-c]$", "b"));
  EXPECT_TRUE(search("^\\d\\d$", "42"));
  EXPECT_FALSE(search("^\\d$", "x"));
  EXPECT_TRUE(search("^\\D$", "x"));
  EXPECT_TRUE(search("^\\w+$", "Ab_9"));
  EXPECT_FALSE(search("^\\w+$", "a-b"));
  EXPECT_TRUE(search("^\\W$", "-"));
  EXPECT_TRUE(search("^\\s$", " "));
  EXPECT_TRUE(search("^\\s$", "\t"));
  EXPECT_TRUE(search("^\\s$", "\xC2\xA0"));  // U+00A0 is ECMA whitespace
  EXPECT_FALSE(search("^\\S$", "\xC2\xA0"));
  EXPECT_TRUE(search("^\\S$", "x"));
  EXPECT_TRUE(search("^.$", "\xE2\x82\xAC"));  // €
  EXPECT_FALSE(search("^.$", "\n"));
  EXPECT_FALSE(search("^.$", "ab"));
  EXPECT_TRUE(search("^[\\s\\S]$", "\n"));
  EXPECT_TRUE(search("^a\\.b$", "a.b"));
  EXPECT_FALSE(search("^a\\.b$", "axb"));
  EXPECT_TRUE(search("^\\x41\\u0042\\u{43}$", "ABC"));
  EXPECT_TRUE(search("^[\\-a]+$", "-a-"));
  EXPECT_TRUE(search("^[a-]$", "-"));
  EXPECT_TRUE(search("^\\/\\*$", "/*"));
  EXPECT_TRUE(search("^\\t\\n$", "\t\n"));
  EXPECT_TRUE(search("^caf\xC3\xA9$", "caf\xC3\xA9"));
}

TEST(JsonRegex, QuantifiersGroupsAlternation) {
  EXPECT_TRUE(search("^a?$", ""));
  EXPECT_TRUE(search("^a?$", "a"));
  EXPECT_FALSE(search("^a?$", "aa"));
  EXPECT_TRUE(search("^a*$", "aaaa"));
  EXPECT_FALSE(search("^a+$", ""));
  EXPECT_TRUE(search("^a{3}$", "aaa"));
  EXPECT_FALSE(search("^a{3}$", "aaaa"));
  EXPECT_TRUE(search("^a{2,}$", "aaaaa"));
  EXPECT_FALSE(search("^a{2,}$", "a"));
  EXPECT_TRUE(search("^a{1,2}$", "aa"));
  EXPECT_FALSE(search("^a{1,2}$", "aaa"));
  EXPECT_TRUE(search("^a+?$", "aaa"));  // lazy: same language
  EXPECT_TRUE(search("^(ab)+$", "ababab"));
  EXPECT_FALSE(search("^(ab)+$", "aba"));
  EXPECT_TRUE(search("^(?:cat|dog)s?$", "dogs"));
  EXPECT_FALSE(search("^(?:cat|dog)s?$", "cow"));
  EXPECT_TRUE(search("^(?<year>\\d{4})-\\d{2}$", "2024-05"));
  EXPECT_TRUE(search("^(a|)$", ""));
  EXPECT_TRUE(search("^\\d{3}-\\d{4}$", "555-1234"));
  EXPECT_FALSE(search("^\\d{3}-\\d{4}$", "5555-123"));
}

TEST(JsonRegex, UnsupportedConstructsAreErrors) {
  for (const char* p : {"(?=a)", "(?!a)", "(?<=a)b", "(a)\\1", "\\bword", "\\p{L}", "a^b", "a$b", "(^a)", "[", "(a",
                        "a)", "*a", "a{2", "a{3,2}", "\\cA", "\\q", "{1}", "a{1001}"}) {
    EXPECT_THROW(compile_regex(p), Error) << p;
  }
}

TEST(JsonRegex, OnlyValidUtf8) {
  ByteDfa any = any_utf8();
  EXPECT_TRUE(any.matches("plain \xC3\xA9 \xF0\x9F\x98\x80"));
  EXPECT_FALSE(any.matches("\xC0\x80"));          // overlong
  EXPECT_FALSE(any.matches("\xED\xA0\x80"));      // surrogate
  EXPECT_FALSE(any.matches("\xF4\x90\x80\x80"));  // above U+10FFFF
  EXPECT_FALSE(any.matches("\xFF"));
  EXPECT_FALSE(any.matches("\xC3"));  // cut short
  EXPECT_FALSE(compile_regex(".").matches("\xED\xA0\x80"));
}

TEST(JsonRegex, FormatsMatchTheirRfcForms) {
  auto fmt = [](const char* f) { return compile_anchored_regex(format_regex(f)); };
  ByteDfa date = fmt("date");
  EXPECT_TRUE(date.matches("2024-02-29"));  // leap year
  EXPECT_TRUE(date.matches("2000-02-29"));  // divisible by 400
  EXPECT_FALSE(date.matches("1900-02-29"));  // divisible by 100 only
  EXPECT_FALSE(date.matches("2023-02-29"));
  EXPECT_TRUE(date.matches("2023-04-30"));
  EXPECT_FALSE(date.matches("2023-04-31"));
  EXPECT_TRUE(date.matches("2023-12-31"));
  EXPECT_FALSE(date.matches("2023-13-01"));
  EXPECT_FALSE(date.matches("2023-00-10"));
  EXPECT_FALSE(date.matches("0000-01-01"));
  EXPECT_FALSE(date.matches("2023-1-01"));
  ByteDfa time = fmt("time");
  EXPECT_TRUE(time.matches("23:59:59Z"));
  EXPECT_TRUE(time.matches("08:30:00.250+05:30"));
  EXPECT_TRUE(time.matches("00:00:00-08:00"));
  EXPECT_FALSE(time.matches("24:00:00Z"));
  EXPECT_FALSE(time.matches("12:60:00Z"));
  EXPECT_FALSE(time.matches("12:30:00"));  // RFC 3339 full-time needs an offset
  EXPECT_FALSE(time.matches("12:30Z"));
  ByteDfa dt = fmt("date-time");
  EXPECT_TRUE(dt.matches("2024-01-15T08:00:00.123Z"));
  EXPECT_FALSE(dt.matches("2024-01-15 08:00:00Z"));
  ByteDfa uuid = fmt("uuid");
  EXPECT_TRUE(uuid.matches("123e4567-e89b-12d3-a456-426614174000"));
  EXPECT_TRUE(uuid.matches("123E4567-E89B-12D3-A456-426614174000"));
  EXPECT_FALSE(uuid.matches("123e4567-e89b-12d3-a456-42661417400"));
  EXPECT_FALSE(uuid.matches("123e4567e89b12d3a456426614174000"));
  ByteDfa email = fmt("email");
  EXPECT_TRUE(email.matches("first.last+tag@mail.example.com"));
  EXPECT_FALSE(email.matches("no-at-sign.example.com"));
  EXPECT_FALSE(email.matches("a@localhost"));
  EXPECT_FALSE(email.matches("a..b@example.com"));
  EXPECT_FALSE(email.matches("@example.com"));
  ByteDfa ip = fmt("ipv4");
  EXPECT_TRUE(ip.matches("192.168.0.255"));
  EXPECT_FALSE(ip.matches("256.1.1.1"));
  EXPECT_FALSE(ip.matches("01.1.1.1"));
  EXPECT_FALSE(ip.matches("1.1.1"));
  EXPECT_EQ(format_regex("uri"), "");
}

TEST(JsonRegex, ExclusionIntersectionAndLength) {
  ByteDfa no_markers = intersect(any_utf8(), exclude_words({"<|a>", "<b|>"}));
  EXPECT_TRUE(no_markers.matches("x <|a x <b| >"));
  EXPECT_FALSE(no_markers.matches("x<|a>y"));
  EXPECT_FALSE(no_markers.matches("<<b|>"));
  EXPECT_TRUE(no_markers.matches("<|<|a"));
  // the state with nothing pending is reached again after any plain character
  EXPECT_EQ(no_markers.run("abc"), no_markers.start);
  EXPECT_EQ(no_markers.run("\xC3\xA9"), no_markers.start);
  EXPECT_NE(no_markers.run("<|"), no_markers.start);

  ByteDfa lower = compile_anchored_regex("[a-z]*");
  ByteDfa len = limit_length(lower, 2, 3);
  EXPECT_FALSE(len.matches("a"));
  EXPECT_TRUE(len.matches("ab"));
  EXPECT_TRUE(len.matches("abc"));
  EXPECT_FALSE(len.matches("abcd"));
  ByteDfa chars = limit_length(any_utf8(), 0, 2);
  EXPECT_TRUE(chars.matches("\xC3\xA9\xC3\xA9"));  // two code points, four bytes
  EXPECT_FALSE(chars.matches("\xC3\xA9\xC3\xA9x"));
  // every state left can still reach acceptance
  ByteDfa even = limit_length(compile_anchored_regex("(aa)*"), 3, 3);
  EXPECT_TRUE(even.empty());
  ByteDfa both = intersect(compile_regex("^a"), compile_regex("b$"));
  EXPECT_TRUE(both.matches("axxb"));
  EXPECT_FALSE(both.matches("axx"));
  EXPECT_EQ(both.run("c"), -1);  // refused at once: no completion exists
}

TEST(JsonRegex, AgreesWithStdRegexOnAsciiStrings) {
  // std::regex (ECMAScript) is an independent implementation of the same semantics for ASCII text.
  std::mt19937 rng(7);
  const char* patterns[] = {"^(a|ab)(c|bcd)(d*)$", "(x+x+)+y", "^[ab]*a[ab]{3}$", "^(a|b)*abb$", "b{2,3}",
                            "^[^a]c?$", "(ab|ba)+$", "^\\w\\d?"};
  for (const char* p : patterns) {
    ByteDfa d = compile_regex(p);
    std::regex r(p, std::regex::ECMAScript);
    for (int i = 0; i < 600; ++i) {
      std::string s;
      int n = int(rng() % 8);
      for (int k = 0; k < n; ++k) s += "abcdxy1_"[rng() % 8];
      EXPECT_EQ(d.matches(s), std::regex_search(s, r)) << p << " on \"" << s << "\"";
    }
  }
  // (a|b)*abb minimizes to the textbook four states
  EXPECT_EQ(compile_anchored_regex("(a|b)*abb").size(), 4);
}

}  // namespace
}  // namespace g4::jsonc
