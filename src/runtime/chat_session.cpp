#include "runtime/chat_session.h"

#include <algorithm>
#include <chrono>

#include "core/error.h"

namespace g4 {

ChatSession::ChatSession(const Model& model, const ChatFormat& format, int64_t context, KVTypes kv_type)
    : model_(model), format_(format), seq_(model.new_cache(context, media_chunk_size(model, 512), kv_type, kCheckpoints)) {}

void ChatSession::reset() {
  messages_ = Json::array();
  media_.clear();
  pending_.clear();
  seq_.clear();
}

namespace {

// Media parts of a message (the chat template writes one placeholder for each).
size_t media_parts(const Json& message) {
  if (!message.contains("content") || !message["content"].is_array()) return 0;
  size_t n = 0;
  for (const Json& part : message["content"])
    if (part.is_object() && (part.value("type", "") == "image" || part.value("type", "") == "audio")) ++n;
  return n;
}

}  // namespace

Json ChatSession::user_message(const std::string& user_text) const {
  if (pending_.empty()) return {{"role", "user"}, {"content", user_text}};
  Json parts = Json::array();
  for (const auto& m : pending_) parts.push_back({{"type", m->kind == MediaKind::Image ? "image" : "audio"}});
  parts.push_back({{"type", "text"}, {"text", user_text}});
  return {{"role", "user"}, {"content", parts}};
}

Json ChatSession::build_messages(const Json& history, const std::string& user_text) const {
  Json m = Json::array();
  if (!system_.empty()) m.push_back({{"role", "system"}, {"content", system_}});
  for (const Json& x : history) m.push_back(x);
  m.push_back(user_message(user_text));
  return m;
}

MediaPrompt ChatSession::fit_prompt(const std::string& user_text, int max_tokens, int& dropped) {
  const int64_t ctx = seq_.cache().max_context();
  const int64_t room = std::max<int64_t>(1, std::min<int64_t>(max_tokens, ctx / 4));
  ChatOptions options;
  options.enable_thinking = thinking_;
  for (;;) {
    MediaList all = media_;
    all.insert(all.end(), pending_.begin(), pending_.end());
    MediaPrompt prompt = expand_media(model_, format_.prompt_ids(build_messages(messages_, user_text), tools_, options), all);
    const int64_t n = int64_t(prompt.ids.size());
    if (n + room <= ctx) return prompt;
    if (messages_.empty()) {  // nothing left to drop: answer in whatever room there is, if any
      if (n + 1 <= ctx) return prompt;
      throw Error("the message takes " + std::to_string(n) + " tokens (with the system prompt and chat format), more than the context of " +
                  std::to_string(ctx) + " tokens holds with room for an answer; shorten it or use a larger --ctx");
    }
    if (policy_ == ContextPolicy::Refuse)
      throw Error("the conversation (" + std::to_string(n) + " tokens, plus " + std::to_string(room) +
                  " for the answer) no longer fits the context of " + std::to_string(ctx) + " tokens; use /reset or a larger --ctx");
    // Drop the oldest turn: the first user message and everything up to the next one.
    size_t next = 1;
    while (next < messages_.size() && messages_[next].value("role", "") != "user") ++next;
    size_t parts = 0;
    for (size_t i = 0; i < next; ++i) parts += media_parts(messages_[i]);
    media_.erase(media_.begin(), media_.begin() + long(std::min(parts, media_.size())));
    messages_.erase(messages_.begin(), messages_.begin() + long(next));
    ++dropped;
  }
}

TurnResult ChatSession::ask(const std::string& user_text, const SamplingParams& sampling, int max_tokens,
                            const std::vector<std::string>& stop_strings,
                            const std::function<bool(const AnswerStream::Delta&)>& on_delta) {
  using clock = std::chrono::steady_clock;
  TurnResult r;
  const MediaPrompt mp = fit_prompt(user_text, max_tokens, r.dropped_turns);
  const std::vector<int32_t>& prompt = mp.ids;
  r.prompt_tokens = int(prompt.size());
  // The cache remembers keys (content-derived ids for soft tokens), the model reads ids and soft tokens.
  const size_t reused = seq_.reuse(mp.cache_key);
  std::vector<int32_t> rest(prompt.begin() + long(reused), prompt.end());
  r.prefilled_tokens = int(rest.size());
  const int64_t room = seq_.cache().max_context() - int64_t(prompt.size());
  const int budget = int(std::min<int64_t>(max_tokens, room));

  StopConfig stop;
  stop.eog_ids = model_.config().eog_ids.empty() ? format_.tokenizer().eog_ids()
                                                  : std::vector<int32_t>(model_.config().eog_ids.begin(), model_.config().eog_ids.end());
  stop.stop_strings = stop_strings;
  stop.max_tokens = budget;
  AnswerStream stream(format_.tokenizer(), stop);
  Sampler sampler(sampling);
  std::vector<int32_t> history(prompt);

  Decoder decoder(model_, seq_.cache(), sampler, drafts_, draft_max_);
  auto t0 = clock::now();
  decoder.prefill(rest, mp.spans_from(reused));
  seq_.appended(mp.cache_key.data() + reused, rest.size());
  seq_.prompt_done();
  auto t1 = clock::now();
  r.prefill_seconds = std::chrono::duration<double>(t1 - t0).count();
  bool keep = true;
  int32_t fed_last = -1;  // the last token returned: not in the cache yet
  while (keep && r.completion_tokens < budget) {
    const size_t before = size_t(seq_.cache().n_past());
    const std::vector<int32_t> toks = decoder.next(history, budget - r.completion_tokens);
    // What entered the cache: the previous last token and every returned one but the last.
    std::vector<int32_t> entered;
    if (fed_last >= 0) entered.push_back(fed_last);
    entered.insert(entered.end(), toks.begin(), toks.end() - 1);
    entered.resize(size_t(seq_.cache().n_past()) - before);
    seq_.appended(entered.data(), entered.size());
    fed_last = toks.back();
    for (size_t j = 0; j < toks.size(); ++j) {
      ++r.completion_tokens;
      AnswerStream::Delta d = stream.push(toks[j]);
      r.reasoning += d.reasoning;
      r.content += d.content;
      keep = on_delta ? on_delta(d) : true;
      if (d.stop || !keep) {
        decoder.drop_unused(int(j) + 1);
        seq_.truncate(size_t(seq_.cache().n_past()));
        keep = false;
        break;
      }
    }
  }
  r.speculative = decoder.stats();
  AnswerStream::Delta last = stream.finish();
  r.reasoning += last.reasoning;
  r.content += last.content;
  if (on_delta && !(last.text.empty() && last.tool_calls.empty())) on_delta(last);
  r.decode_seconds = std::chrono::duration<double>(clock::now() - t1).count();
  r.reason = stream.reason();
  r.context_full = r.reason == StopReason::MaxTokens && budget < max_tokens;
  ParsedOutput parsed = parse_output(stream.full_text());
  r.tool_calls = parsed.tool_calls;
  Json assistant{{"role", "assistant"}, {"content", parsed.content}};
  if (!parsed.tool_calls.empty()) {
    Json calls = Json::array();
    for (const ToolCall& c : parsed.tool_calls)
      calls.push_back({{"type", "function"}, {"function", {{"name", c.name}, {"arguments", parse_json(c.arguments_json, "tool call arguments")}}}});
    assistant["tool_calls"] = calls;
  }
  messages_.push_back(user_message(user_text));
  messages_.push_back(assistant);
  media_.insert(media_.end(), pending_.begin(), pending_.end());
  pending_.clear();
  return r;
}

}  // namespace g4
