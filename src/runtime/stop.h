#pragma once
// Stop conditions for generation: end-of-generation tokens, stop strings over the streamed text,
// and a token budget. Text that might be the beginning of a stop string is held back, so nothing
// at or after a stop string is ever emitted.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace g4 {

// Gemma 4 end-of-generation ids: <eos> 1, <turn|> 106, <|tool_response> 50.
inline const std::vector<int32_t>& gemma4_eog_ids() {
  static const std::vector<int32_t> ids = {1, 106, 50};
  return ids;
}

enum class StopReason { None, EndOfGeneration, StopString, MaxTokens };
const char* stop_reason_name(StopReason r);  // "none", "eog", "stop", "length"

struct StopConfig {
  std::vector<int32_t> eog_ids = gemma4_eog_ids();
  std::vector<std::string> stop_strings;  // empty strings are ignored
  int64_t max_tokens = -1;                // < 0: no limit; 0 stops before the first token
};

class StopDetector {
 public:
  explicit StopDetector(StopConfig config);

  struct Step {
    std::string text;   // safe to emit now
    bool stop = false;  // generation must end (do not sample another token)
  };

  // Feeds one generated token and its newly detokenized text. An EOG token stops without adding
  // its text. Reaching max_tokens stops and releases all held text (the stream is over).
  Step push(int32_t id, std::string_view text);
  // Feeds text that does not count as a token (e.g. a detokenizer flush).
  Step push_text(std::string_view text);
  // The stream ended for another reason: returns the held-back text (no stop string matched).
  std::string flush();

  bool is_eog(int32_t id) const;
  bool stopped() const { return reason_ != StopReason::None; }
  StopReason reason() const { return reason_; }
  const std::string& matched_stop_string() const { return matched_; }
  int64_t n_tokens() const { return n_tokens_; }
  // Whether the budget is used up before any token is generated (max_tokens == 0).
  bool exhausted() const { return config_.max_tokens >= 0 && n_tokens_ >= config_.max_tokens; }

 private:
  StopConfig config_;
  std::string held_;
  std::string matched_;
  StopReason reason_ = StopReason::None;
  int64_t n_tokens_ = 0;
};

// Length of the longest suffix of `text` that is a proper prefix of one of `needles`
// (the part to hold back while more text may still complete a needle).
size_t partial_match_suffix(std::string_view text, const std::vector<std::string>& needles);

}  // namespace g4
