#pragma once
// Byte-level deterministic automata for constrained string content: the `pattern` regex subset,
// the `format`s, property-name syntaxes and the exclusion of the model's control markers, combined
// by intersection and by a code-point length counter. Every automaton accepts only valid UTF-8.
//
// Regex subset (ECMA-262 syntax, "u" mode semantics over code points; JSON Schema's `pattern` is a
// search, so a pattern without ^ or $ may have anything before or after the match):
//   literals (any UTF-8 character), escapes of syntax characters (\. \* \\ \/ \- ...), \t \n \r \f
//   \v \0 \xHH \uHHHH \u{H...}, classes [abc] [^a-z] with ranges and \d \w \s inside, the class
//   escapes \d \D \w \W \s \S (ECMA sets; \s includes the Unicode spaces), . (any character but
//   \n \r \u2028 \u2029), quantifiers ? * + {n} {n,} {n,m} (a lazy ? suffix is accepted: the same
//   language), groups ( ) (?: ) (?<name> ), alternation |, ^ at the start and $ at the end of the
//   pattern or of a top-level alternative.
// Not supported (an error naming it): backreferences, lookaround, \b \B, \p{...}, \cX, anchors
// elsewhere, flags.
#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace g4::jsonc {

struct ByteDfa {
  std::array<uint8_t, 256> cls{};  // byte -> column
  int n_cls = 1;
  std::vector<int32_t> next;     // [state * n_cls + column] -> state; -1 rejects
  std::vector<uint8_t> accept;   // per state
  int32_t start = 0;

  int32_t size() const { return int32_t(accept.size()); }
  int32_t step(int32_t s, uint8_t b) const { return next[size_t(s) * size_t(n_cls) + cls[b]]; }
  bool accepting(int32_t s) const { return accept[size_t(s)] != 0; }
  bool empty() const { return accept.empty(); }
  // Runs over `bytes` from the start; -1 when rejected on the way.
  int32_t run(std::string_view bytes) const;
  bool matches(std::string_view bytes) const {
    int32_t s = run(bytes);
    return s >= 0 && accepting(s);
  }
};

// Sizes beyond which building an automaton is refused (a g4::Error saying so).
struct DfaLimits {
  size_t max_states = 100000;
  size_t max_entries = size_t(1) << 22;  // states * columns
};

// `pattern` (search semantics, see above). Throws g4::Error naming the unsupported construct and
// its offset. The result is trimmed (every state can still reach acceptance); it may accept nothing
// only when the pattern can match nothing.
ByteDfa compile_regex(std::string_view pattern, const DfaLimits& limits = {});
// The same with ^...$ implied (the whole string must match), for building fixed syntaxes.
ByteDfa compile_anchored_regex(std::string_view pattern, const DfaLimits& limits = {});

// The regex (in the subset above, anchored) a JSON Schema `format` stands for, or "" when the
// format is not supported: date, time, date-time (RFC 3339, leap years exact, no leap second),
// uuid (RFC 4122 text form), email (dot-atom local part @ a domain of at least two labels), ipv4.
std::string format_regex(std::string_view format);

// Any valid UTF-8 text.
ByteDfa any_utf8();
// Any byte string that contains none of `words` (non-empty). State `start` is the only state with
// no partial word pending.
ByteDfa exclude_words(const std::vector<std::string>& words);

// Both languages; trimmed.
ByteDfa intersect(const ByteDfa& a, const ByteDfa& b, const DfaLimits& limits = {});
// Strings of `a` with [min_chars, max_chars] code points (max_chars < 0: no upper bound), counted
// as the bytes that are not UTF-8 continuation bytes; trimmed.
ByteDfa limit_length(const ByteDfa& a, int64_t min_chars, int64_t max_chars, const DfaLimits& limits = {});
// Merges equivalent states (Moore's partition refinement); skipped above `max_states` states.
void minimize(ByteDfa& dfa, size_t max_states = 20000);
// Drops states that cannot reach acceptance or cannot be reached, renumbering the rest; an automaton
// that accepts nothing becomes empty().
void trim(ByteDfa& dfa);

}  // namespace g4::jsonc
