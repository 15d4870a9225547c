#pragma once
// A multi-turn conversation with one model: keeps the message history and the KV cache, and reuses
// the cached prefix when the next prompt starts with the same tokens (the usual case: only the new
// user turn has to be prefilled).
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "model/model.h"
#include "runtime/chat.h"
#include "runtime/sampler.h"

namespace g4 {

struct TurnResult {
  std::string content, reasoning;
  std::vector<ToolCall> tool_calls;
  int prompt_tokens = 0;       // tokens of the whole prompt
  int prefilled_tokens = 0;    // of those, the ones not already in the cache
  int completion_tokens = 0;
  double prefill_seconds = 0, decode_seconds = 0;
  StopReason reason = StopReason::None;
};

class ChatSession {
 public:
  ChatSession(const Model& model, const ChatFormat& format, int64_t context, KVTypes kv_type = {});

  void set_system(std::string system) { system_ = std::move(system); }
  void set_thinking(bool on) { thinking_ = on; }
  bool thinking() const { return thinking_; }
  void set_tools(Json tools) { tools_ = std::move(tools); }
  void reset();  // forget the conversation (the system prompt stays)

  // Streams one answer to `user_text`. on_delta returns false to stop early (e.g. Ctrl-C); the partial
  // answer is still kept in the history.
  TurnResult ask(const std::string& user_text, const SamplingParams& sampling, int max_tokens,
                 const std::vector<std::string>& stop_strings,
                 const std::function<bool(const AnswerStream::Delta&)>& on_delta);

  const Json& messages() const { return messages_; }

 private:
  Json build_messages(const std::string& user_text) const;
  size_t reuse_prefix(const std::vector<int32_t>& prompt);

  const Model& model_;
  const ChatFormat& format_;
  std::unique_ptr<KVCache> cache_;
  std::vector<int32_t> cached_;  // token ids whose K/V are in cache_, in order
  Json messages_ = Json::array();
  Json tools_ = Json::array();
  std::string system_;
  bool thinking_ = false;
};

}  // namespace g4
