#pragma once
// A multi-turn conversation with one model: keeps the message history and the KV cache, and reuses
// the cached prefix when the next prompt starts with the same tokens (the usual case: only the new
// user turn has to be prefilled; when the template renders the last answer differently, e.g. without
// its thinking, the cache returns to the checkpoint taken where that answer began).
//
// When the context fills (ContextPolicy):
// - DropOldest (the default): before answering, the oldest turns after the system prompt are dropped
//   (for good) until the prompt plus room for the answer (max_tokens, at most a quarter of the context)
//   fits; TurnResult::dropped_turns says how many. A message that cannot fit even alone is refused.
// - Refuse: a conversation that no longer fits is refused with an error naming the sizes.
// An answer that reaches the end of the context stops there with TurnResult::context_full set.
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "model/model.h"
#include "runtime/chat.h"
#include "runtime/media_input.h"
#include "runtime/sampler.h"
#include "runtime/sequence_cache.h"
#include "runtime/speculative.h"

namespace g4 {

struct TurnResult {
  std::string content, reasoning;
  std::vector<ToolCall> tool_calls;
  int prompt_tokens = 0;       // tokens of the whole prompt
  int prefilled_tokens = 0;    // of those, the ones not already in the cache
  int completion_tokens = 0;
  int dropped_turns = 0;       // oldest turns removed to make room (ContextPolicy::DropOldest)
  bool context_full = false;   // the answer stopped because the context was full
  double prefill_seconds = 0, decode_seconds = 0;
  StopReason reason = StopReason::None;
  SpeculativeStats speculative;  // with drafts (set_drafts)
};

enum class ContextPolicy { DropOldest, Refuse };

class ChatSession {
 public:
  ChatSession(const Model& model, const ChatFormat& format, int64_t context, KVTypes kv_type = {});

  // Sliding-window checkpoints kept (each lets a later turn return to where an answer began).
  static constexpr int kCheckpoints = 2;

  void set_system(std::string system) { system_ = std::move(system); }
  const std::string& system() const { return system_; }
  void set_thinking(bool on) { thinking_ = on; }
  bool thinking() const { return thinking_; }
  void set_tools(Json tools) { tools_ = std::move(tools); }
  void set_context_policy(ContextPolicy p) { policy_ = p; }
  // Speculative decoding: up to draft_max tokens from `drafts` per target pass (nullptr: off).
  void set_drafts(DraftSource* drafts, int draft_max) {
    drafts_ = drafts;
    draft_max_ = draft_max;
  }
  void reset();  // forget the conversation (the system prompt stays)
  // A picture (or clip) for the next message: it goes before the text, one placeholder per item, and
  // stays in the history (a later turn that repeats it reuses its cached keys and values).
  void attach(std::shared_ptr<const EncodedMedia> media) { pending_.push_back(std::move(media)); }
  size_t pending_media() const { return pending_.size(); }

  // Streams one answer to `user_text`. on_delta returns false to stop early (e.g. Ctrl-C); the partial
  // answer is still kept in the history.
  TurnResult ask(const std::string& user_text, const SamplingParams& sampling, int max_tokens,
                 const std::vector<std::string>& stop_strings,
                 const std::function<bool(const AnswerStream::Delta&)>& on_delta);

  // The conversation without the system prompt.
  const Json& messages() const { return messages_; }
  // Replaces the conversation (without the system prompt), e.g. one loaded from a file; the KV cache
  // keeps whatever prefix still matches the next prompt.
  void set_messages(Json history) { messages_ = std::move(history); }

 private:
  Json build_messages(const Json& history, const std::string& user_text) const;
  // The prompt for `user_text`, after dropping the oldest turns if the policy allows and it must.
  MediaPrompt fit_prompt(const std::string& user_text, int max_tokens, int& dropped);
  Json user_message(const std::string& user_text) const;

  const Model& model_;
  const ChatFormat& format_;
  SequenceCache seq_;
  ContextPolicy policy_ = ContextPolicy::DropOldest;
  Json messages_ = Json::array();
  Json tools_ = Json::array();
  std::string system_;
  bool thinking_ = false;
  DraftSource* drafts_ = nullptr;
  int draft_max_ = 0;
  MediaList media_;     // of the history's messages, in order
  MediaList pending_;   // for the next message
};

}  // namespace g4
