#include "runtime/chat_session.h"

#include <algorithm>
#include <chrono>

#include "core/error.h"

namespace g4 {

ChatSession::ChatSession(const Model& model, const ChatFormat& format, int64_t context, KVTypes kv_type)
    : model_(model), format_(format), cache_(model.new_cache(context, 512, kv_type)) {}

void ChatSession::reset() {
  messages_ = Json::array();
  cache_->clear();
  cached_.clear();
}

Json ChatSession::build_messages(const std::string& user_text) const {
  Json m = Json::array();
  if (!system_.empty()) m.push_back({{"role", "system"}, {"content", system_}});
  for (const Json& x : messages_) m.push_back(x);
  m.push_back({{"role", "user"}, {"content", user_text}});
  return m;
}

size_t ChatSession::reuse_prefix(const std::vector<int32_t>& prompt) {
  size_t common = 0;
  while (common < cached_.size() && common < prompt.size() && cached_[common] == prompt[common]) ++common;
  if (common == prompt.size() && common > 0) --common;  // at least one token must run to get logits
  try {
    cache_->truncate(int64_t(common));
  } catch (const Error&) {  // a sliding-window ring cannot roll back that far: start over
    cache_->clear();
    common = 0;
  }
  cached_.resize(common);
  return common;
}

TurnResult ChatSession::ask(const std::string& user_text, const SamplingParams& sampling, int max_tokens,
                            const std::vector<std::string>& stop_strings,
                            const std::function<bool(const AnswerStream::Delta&)>& on_delta) {
  using clock = std::chrono::steady_clock;
  ChatOptions options;
  options.enable_thinking = thinking_;
  Json messages = build_messages(user_text);
  std::vector<int32_t> prompt = format_.prompt_ids(messages, tools_, options);
  if (int64_t(prompt.size()) + 1 > cache_->max_context())
    throw Error("the conversation (" + std::to_string(prompt.size()) + " tokens) no longer fits the context of " +
                std::to_string(cache_->max_context()) + " tokens; use /reset or a larger --ctx");
  TurnResult r;
  r.prompt_tokens = int(prompt.size());
  const size_t reused = reuse_prefix(prompt);
  std::vector<int32_t> rest(prompt.begin() + long(reused), prompt.end());
  r.prefilled_tokens = int(rest.size());
  const int budget = int(std::min<int64_t>(max_tokens, cache_->max_context() - int64_t(prompt.size())));

  StopConfig stop;
  stop.eog_ids = model_.config().eog_ids.empty() ? format_.tokenizer().eog_ids()
                                                  : std::vector<int32_t>(model_.config().eog_ids.begin(), model_.config().eog_ids.end());
  stop.stop_strings = stop_strings;
  stop.max_tokens = budget;
  AnswerStream stream(format_.tokenizer(), stop);
  Sampler sampler(sampling);
  std::vector<int32_t> history(prompt);

  auto t0 = clock::now();
  std::vector<float> logits = model_.prefill(*cache_, rest);
  cached_ = prompt;
  auto t1 = clock::now();
  r.prefill_seconds = std::chrono::duration<double>(t1 - t0).count();
  const int32_t V = model_.config().vocab_size;
  bool keep = true;
  while (keep && budget > 0) {
    int32_t tok = sampler.sample(logits.data(), V, history);
    history.push_back(tok);
    ++r.completion_tokens;
    AnswerStream::Delta d = stream.push(tok);
    r.reasoning += d.reasoning;
    r.content += d.content;
    keep = on_delta ? on_delta(d) : true;
    if (d.stop || !keep) break;
    logits = model_.prefill(*cache_, {tok});
    cached_.push_back(tok);
  }
  AnswerStream::Delta last = stream.finish();
  r.reasoning += last.reasoning;
  r.content += last.content;
  if (on_delta && !(last.text.empty() && last.tool_calls.empty())) on_delta(last);
  r.decode_seconds = std::chrono::duration<double>(clock::now() - t1).count();
  r.reason = stream.reason();
  ParsedOutput parsed = parse_output(stream.full_text());
  r.tool_calls = parsed.tool_calls;
  Json assistant{{"role", "assistant"}, {"content", parsed.content}};
  if (!parsed.tool_calls.empty()) {
    Json calls = Json::array();
    for (const ToolCall& c : parsed.tool_calls)
      calls.push_back({{"type", "function"}, {"function", {{"name", c.name}, {"arguments", parse_json(c.arguments_json, "tool call arguments")}}}});
    assistant["tool_calls"] = calls;
  }
  messages_.push_back({{"role", "user"}, {"content", user_text}});
  messages_.push_back(assistant);
  return r;
}

}  // namespace g4
