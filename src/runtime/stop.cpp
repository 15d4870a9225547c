#include "runtime/stop.h"

#include <algorithm>
#include <utility>

namespace g4 {

const char* stop_reason_name(StopReason r) {
  switch (r) {
    case StopReason::None: return "none";
    case StopReason::EndOfGeneration: return "eog";
    case StopReason::StopString: return "stop";
    case StopReason::MaxTokens: return "length";
  }
  return "none";
}

size_t partial_match_suffix(std::string_view text, const std::vector<std::string>& needles) {
  size_t best = 0;
  for (const std::string& n : needles) {
    if (n.empty()) continue;
    size_t max_len = std::min(text.size(), n.size() - 1);
    for (size_t len = max_len; len > best; --len) {
      if (text.compare(text.size() - len, len, n, 0, len) == 0) {
        best = len;
        break;
      }
    }
  }
  return best;
}

StopDetector::StopDetector(StopConfig config) : config_(std::move(config)) {
  auto& s = config_.stop_strings;
  s.erase(std::remove_if(s.begin(), s.end(), [](const std::string& x) { return x.empty(); }), s.end());
}

bool StopDetector::is_eog(int32_t id) const {
  return std::find(config_.eog_ids.begin(), config_.eog_ids.end(), id) != config_.eog_ids.end();
}

StopDetector::Step StopDetector::push_text(std::string_view text) {
  Step step;
  if (stopped()) {
    step.stop = true;
    return step;
  }
  // Only the held part plus the new text can contain a new match: held_ never contains a full
  // stop string.
  held_.append(text);
  size_t first = std::string::npos;
  const std::string* which = nullptr;
  for (const std::string& s : config_.stop_strings) {
    size_t pos = held_.find(s);
    if (pos != std::string::npos && (pos < first || (pos == first && s.size() > which->size()))) {
      first = pos;
      which = &s;
    }
  }
  if (which) {
    step.text = held_.substr(0, first);
    held_.clear();
    matched_ = *which;
    reason_ = StopReason::StopString;
    step.stop = true;
    return step;
  }
  size_t keep = partial_match_suffix(held_, config_.stop_strings);
  step.text = held_.substr(0, held_.size() - keep);
  held_.erase(0, held_.size() - keep);
  return step;
}

StopDetector::Step StopDetector::push(int32_t id, std::string_view text) {
  if (stopped()) return Step{"", true};
  ++n_tokens_;
  if (is_eog(id)) {
    reason_ = StopReason::EndOfGeneration;
    return Step{flush(), true};  // held text was real output
  }
  Step step = push_text(text);
  if (!step.stop && config_.max_tokens >= 0 && n_tokens_ >= config_.max_tokens) {
    step.text += held_;
    held_.clear();
    reason_ = StopReason::MaxTokens;
    step.stop = true;
  }
  return step;
}

std::string StopDetector::flush() {
  std::string out = std::move(held_);
  held_.clear();
  return out;
}

}  // namespace g4
