// The text-generation endpoints: POST /v1/chat/completions and POST /v1/completions, and what other
// generation endpoints reuse: the engine request of a chat request, submission, logprobs objects.
#include <algorithm>
#include <ctime>
#include <limits>

#include "core/error.h"
#include "server/api_common.h"
#include "server/request_body.h"
#include "server/server.h"

namespace g4::server {

namespace {

Json bytes_json(const std::string& b) {
  Json a = Json::array();
  for (unsigned char c : b) a.push_back(int(c));
  return a;
}

// Chat's logprobs object: {"content": [{token, logprob, bytes, top_logprobs: [{token, logprob, bytes}]}],
// "refusal": null}.
Json chat_logprobs(const std::vector<TokenLogprobs>& lps, const Tokenizer& tok) {
  Json content = Json::array();
  for (const TokenLogprobs& lp : lps) {
    Json top = Json::array();
    for (const TokenLogprob& t : lp.top) {
      std::string b = tok.token_bytes(t.id);
      top.push_back({{"token", b}, {"logprob", t.logprob}, {"bytes", bytes_json(b)}});
    }
    std::string b = tok.token_bytes(lp.id);
    content.push_back({{"token", b}, {"logprob", lp.logprob}, {"bytes", bytes_json(b)}, {"top_logprobs", top}});
  }
  return Json{{"content", content}, {"refusal", nullptr}};
}

// The completions API's (legacy) logprobs object: {tokens, token_logprobs, top_logprobs, text_offset};
// each top_logprobs entry maps token text to logprob and holds the sampled token too.
struct CompletionLogprobs {
  Json tokens = Json::array(), token_logprobs = Json::array(), top = Json::array(), offsets = Json::array();
  size_t offset = 0;  // where the next token's text starts in the choice's text

  void add(const std::vector<TokenLogprobs>& lps, const Tokenizer& tok) {
    for (const TokenLogprobs& lp : lps) {
      std::string b = tok.token_bytes(lp.id);
      Json alts = Json::object();
      for (const TokenLogprob& t : lp.top) alts[tok.token_bytes(t.id)] = t.logprob;
      alts[b] = lp.logprob;
      tokens.push_back(b);
      token_logprobs.push_back(lp.logprob);
      top.push_back(std::move(alts));
      offsets.push_back(offset);
      offset += b.size();
    }
  }
  Json take() {
    Json j = {{"tokens", tokens}, {"token_logprobs", token_logprobs}, {"top_logprobs", top}, {"text_offset", offsets}};
    tokens = Json::array();
    token_logprobs = Json::array();
    top = Json::array();
    offsets = Json::array();
    return j;
  }
};

void write_error_event(HttpResponse& res, const std::string& message) {
  res.write(sse_data({{"error", {{"message", message}, {"type", "server_error"}, {"param", nullptr}, {"code", "generation_failed"}}}}));
  res.write("data: [DONE]\n\n");
}

// The answer to one chat request, streamed or whole: the choices' state and the JSON they become.
class ChatReply {
 public:
  ChatReply(const ChatRequest& cr, const Tokenizer& tok, std::string model)
      : cr_(cr), tok_(tok), model_(std::move(model)), id_(random_id("chatcmpl-")), created_(int64_t(std::time(nullptr))),
        choices_(size_t(cr.n)) {}

  void stream(SeqChannel& ch, HttpResponse& res) {
    if (!res.start_stream(200, "text/event-stream")) {
      ch.cancel();
      return;
    }
    for (size_t i = 0; i < choices_.size(); ++i) {
      if (!res.write(chunk(i, {{"role", "assistant"}, {"content", ""}}, nullptr, nullptr))) {
        ch.cancel();
        return;
      }
    }
    PumpResult r = pump(ch, res, cr_.n, [&](const SeqEvent& e) {
      Choice& c = choices_[size_t(e.index)];
      const AnswerStream::Delta& d = e.delta;
      Json delta = Json::object();
      if (!d.reasoning.empty()) delta["reasoning_content"] = d.reasoning;
      if (!d.content.empty()) delta["content"] = d.content;
      Json calls = tool_calls_json(c, d.tool_calls);
      if (!calls.empty()) delta["tool_calls"] = calls;
      Json lp = cr_.logprobs >= 0 && !e.logprobs.empty() ? chat_logprobs(e.logprobs, tok_) : Json();
      if ((!delta.empty() || !lp.is_null()) && !res.write(chunk(size_t(e.index), delta, lp, nullptr))) return false;
      if (e.done && (e.finish_reason == "stop" || e.finish_reason == "length"))
        return res.write(chunk(size_t(e.index), Json::object(), nullptr, finish_reason(c, e.finish_reason)));
      return true;
    });
    if (r.finish_reason == "gone" || r.finish_reason == "cancelled") return;
    if (r.finish_reason == "error") {
      write_error_event(res, r.error);
      return;
    }
    if (cr_.include_usage) {
      Json u = envelope("chat.completion.chunk");
      u["choices"] = Json::array();
      u["usage"] = usage_json(r);
      if (cr_.include_obfuscation) u["obfuscation"] = obfuscation_padding();
      res.write(sse_data(u));
    }
    res.write("data: [DONE]\n\n");
  }

  void whole(SeqChannel& ch, HttpResponse& res) {
    PumpResult r = pump(ch, res, cr_.n, [&](const SeqEvent& e) {
      Choice& c = choices_[size_t(e.index)];
      c.content += e.delta.content;
      c.reasoning += e.delta.reasoning;
      for (Json& call : tool_calls_json(c, e.delta.tool_calls)) c.calls.push_back(std::move(call));
      c.logprobs.insert(c.logprobs.end(), e.logprobs.begin(), e.logprobs.end());
      return true;
    });
    if (r.finish_reason == "gone" || r.finish_reason == "cancelled") {
      res.send(499, "application/json", "{}");
      return;
    }
    if (r.finish_reason == "error") throw ApiError(500, "generation failed: " + r.error, "", "generation_failed", "server_error");
    Json out_choices = Json::array();
    for (size_t i = 0; i < choices_.size(); ++i) {
      Choice& c = choices_[i];
      for (Json& call : c.calls) call.erase("index");
      Json msg = {{"role", "assistant"}, {"content", c.content}};
      if (!c.calls.empty()) {
        msg["tool_calls"] = c.calls;
        if (c.content.empty()) msg["content"] = nullptr;
      }
      if (!c.reasoning.empty()) msg["reasoning_content"] = c.reasoning;
      out_choices.push_back({{"index", i},
                             {"message", msg},
                             {"logprobs", cr_.logprobs >= 0 ? chat_logprobs(c.logprobs, tok_) : Json()},
                             {"finish_reason", finish_reason(c, r.choices[i].finish_reason)}});
    }
    Json out = envelope("chat.completion");
    out["choices"] = std::move(out_choices);
    out["usage"] = usage_json(r);
    send_json(res, 200, out);
  }

 private:
  struct Choice {
    std::string content, reasoning;
    Json calls = Json::array();
    int n_calls = 0;
    std::vector<TokenLogprobs> logprobs;
  };

  // Tool calls as the API shows them; with parallel_tool_calls false, only the first of a choice.
  Json tool_calls_json(Choice& c, const std::vector<ToolCallDelta>& tcs) const {
    Json calls = Json::array();
    for (const ToolCallDelta& tc : tcs) {
      if (!cr_.parallel_tool_calls && c.n_calls > 0) break;
      ++c.n_calls;
      calls.push_back({{"index", tc.index},
                       {"id", random_id("call_")},
                       {"type", "function"},
                       {"function", {{"name", tc.name}, {"arguments", tc.arguments_json}}}});
    }
    return calls;
  }
  static std::string finish_reason(const Choice& c, const std::string& reason) {
    return reason == "stop" && c.n_calls > 0 ? "tool_calls" : reason;
  }
  Json envelope(const char* object) const {
    Json j = {{"id", id_}, {"object", object}, {"created", created_}, {"model", model_}, {"system_fingerprint", kFingerprint}};
    if (!cr_.service_tier.empty()) j["service_tier"] = "default";
    return j;
  }
  std::string chunk(size_t index, Json delta, Json logprobs, Json finish) const {
    Json j = envelope("chat.completion.chunk");
    j["choices"] = Json::array({{{"index", index}, {"delta", std::move(delta)}, {"logprobs", std::move(logprobs)},
                                 {"finish_reason", std::move(finish)}}});
    if (cr_.include_obfuscation) j["obfuscation"] = obfuscation_padding();
    return sse_data(j);
  }

  const ChatRequest& cr_;
  const Tokenizer& tok_;
  const std::string model_, id_;
  const int64_t created_;
  std::vector<Choice> choices_;
};

}  // namespace

ParseContext ApiServer::parse_context() const {
  ParseContext pc;
  pc.defaults = opt_.defaults;
  pc.fixed_seed = opt_.fixed_seed;
  pc.default_max_tokens = opt_.default_max_tokens;
  pc.vocab_size = model_->config().vocab_size;
  // Every choice takes a KV slot or a queue place; beyond that a request could never be admitted whole.
  pc.max_n = std::clamp(opt_.scheduler.parallel + opt_.scheduler.max_queue, 1, 16);
  return pc;
}

void ApiServer::context_exceeded(int64_t tokens, const std::string& param, bool at_least) const {
  const std::string what = param == "messages" ? "the messages take " : "the prompt has ";
  throw ApiError(400,
                 "This model's maximum context length is " + std::to_string(opt_.scheduler.ctx) + " tokens, but " + what +
                     (at_least ? "at least " : "") + std::to_string(tokens) +
                     " tokens. Shorten the input or start the server with a larger --ctx.",
                 param, "context_length_exceeded");
}

SeqRequest ApiServer::chat_request(ChatRequest& cr) const {
  ChatOptions co;
  co.enable_thinking = cr.enable_thinking;
  co.extra_context = cr.template_kwargs;
  co.max_prompt_tokens = opt_.scheduler.ctx - 1;  // room for one generated token
  // Template work per render, sized for a server: a tool-heavy conversation takes ~100 operations per
  // prompt token (measured with the Gemma 4 template), so a prompt that fits needs far fewer than this.
  co.max_template_steps = 1'000'000 + 1024 * uint64_t(opt_.scheduler.ctx);
  std::vector<int32_t> prompt;
  try {
    prompt = chat_->prompt_ids(cr.messages, cr.tools, co);
  } catch (const PromptTooLong& e) {
    context_exceeded(e.min_tokens, "messages", true);
  } catch (const Error& e) {
    throw ApiError(400, std::string("cannot format the messages with the chat template: ") + e.what(), "messages");
  }
  SeqRequest sr;
  if (!cr.media.empty()) {
    // Soft tokens replace the template's placeholders; the slot cache keys them by content.
    auto mp = std::make_shared<MediaPrompt>();
    try {
      *mp = expand_media(*model_, prompt, resolve_media(*model_, cr.media, opt_.media));
    } catch (const Error& e) {
      throw ApiError(400, e.what(), "messages", "invalid_media");
    }
    prompt = mp->ids;
    sr.media = std::move(mp);
  }
  if (int64_t(prompt.size()) >= opt_.scheduler.ctx) context_exceeded(int64_t(prompt.size()), "messages", false);
  sr.prompt = std::move(prompt);
  sr.sampling = cr.sampling;
  sr.stop.eog_ids = eog_ids();
  sr.stop.stop_strings = cr.stop;
  sr.stop.max_tokens = cr.max_tokens;
  sr.start_in_reasoning = chat_->opens_reasoning(sr.prompt);
  sr.n = cr.n;
  sr.logprobs = cr.logprobs;
  const bool forced_tool = cr.tool_choice == ToolChoice::Required || cr.tool_choice == ToolChoice::Named;
  // Each choice needs a constraint of its own (they carry state).
  auto make_constraint = [&]() -> std::unique_ptr<TokenConstraint> {
    if (forced_tool)
      return make_forced_tool_call(ctokens_, cr.tools, cr.tool_choice == ToolChoice::Named ? cr.tool_name : "");
    if (cr.json) return make_json_constraint(ctokens_, cr.json->clone(), sr.stop.eog_ids);
    return nullptr;
  };
  try {
    sr.constraint = make_constraint();
    if (sr.constraint) {
      sr.start_in_reasoning = false;
      for (int i = 1; i < cr.n; ++i) sr.extra_constraints.push_back(make_constraint());
    }
    if (cr.tool_choice == ToolChoice::None || cr.tools.empty()) {
      if (auto id = chat_->tool_call_token()) {
        if (!forced_tool) sr.sampling.logit_bias[*id] = -std::numeric_limits<float>::infinity();
      }
    }
  } catch (const Error& e) {
    throw ApiError(400, e.what(), "tool_choice");
  }
  return sr;
}

std::shared_ptr<SeqChannel> ApiServer::submit(SeqRequest sr, HttpResponse& res) {
  try {
    return scheduler_->submit(std::move(sr));
  } catch (const QueueFull& e) {
    ++rejected_busy_;
    res.set_header("Retry-After", "1");
    throw ApiError(503, e.what(), "", "server_busy", "server_overloaded");
  } catch (const Error& e) {
    throw ApiError(400, e.what());
  }
}

void ApiServer::chat_completions(const HttpRequest& req, HttpResponse& res) {
  Json body = parse_json_checked(req.body);
  ChatRequest cr = parse_chat_request(body, parse_context());
  check_model(cr.model);
  std::shared_ptr<SeqChannel> ch = submit(chat_request(cr), res);
  ChatReply reply(cr, chat_->tokenizer(), opt_.model_id);
  if (cr.stream) reply.stream(*ch, res);
  else reply.whole(*ch, res);
}

void ApiServer::completions(const HttpRequest& req, HttpResponse& res) {
  Json body = parse_json_checked(req.body);
  CompletionRequest cr = parse_completion_request(body, parse_context());
  check_model(cr.model);
  if (cr.echo && cr.logprobs >= 0)
    throw ApiError(400, "'logprobs' together with 'echo' is not supported (the prompt's logprobs are not computed)", "echo",
                   "unsupported_parameter");
  const Tokenizer& tok = chat_->tokenizer();
  if (!cr.has_ids && chat_->min_tokens(cr.prompt) >= opt_.scheduler.ctx)  // refused before tokenizing it whole
    context_exceeded(chat_->min_tokens(cr.prompt), "prompt", true);
  std::vector<int32_t> prompt = cr.has_ids ? cr.prompt_ids : tok.encode(cr.prompt, /*parse_special=*/true, /*add_bos=*/true);
  if (prompt.empty()) throw ApiError(400, "the prompt is empty", "prompt");
  if (int64_t(prompt.size()) >= opt_.scheduler.ctx) context_exceeded(int64_t(prompt.size()), "prompt", false);
  SeqRequest sr;
  sr.prompt = prompt;
  sr.sampling = cr.sampling;
  sr.stop.eog_ids = eog_ids();
  sr.stop.stop_strings = cr.stop;
  sr.stop.max_tokens = cr.max_tokens;
  sr.n = cr.n;
  sr.logprobs = cr.logprobs;
  std::shared_ptr<SeqChannel> ch = submit(std::move(sr), res);

  const std::string id = random_id("cmpl-");
  const int64_t created = int64_t(std::time(nullptr));
  std::string echo;
  if (cr.echo) echo = cr.has_ids ? tok.decode(cr.prompt_ids) : cr.prompt;
  const size_t n = size_t(cr.n);
  std::vector<std::string> texts(n, echo);
  std::vector<CompletionLogprobs> lps(n);
  for (auto& l : lps) l.offset = echo.size();
  auto response = [&](size_t index, const std::string& text, Json logprobs, Json finish) {
    Json j = {{"id", id}, {"object", "text_completion"}, {"created", created}, {"model", opt_.model_id},
              {"system_fingerprint", kFingerprint}};
    j["choices"] = Json::array({{{"index", index}, {"text", text}, {"logprobs", std::move(logprobs)}, {"finish_reason", std::move(finish)}}});
    if (cr.include_obfuscation) j["obfuscation"] = obfuscation_padding();
    return j;
  };
  if (cr.stream) {
    if (!res.start_stream(200, "text/event-stream")) {
      ch->cancel();
      return;
    }
    for (size_t i = 0; i < n && !echo.empty(); ++i) {
      if (!res.write(sse_data(response(i, echo, nullptr, nullptr)))) {
        ch->cancel();
        return;
      }
    }
    PumpResult r = pump(*ch, res, cr.n, [&](const SeqEvent& e) {
      const size_t i = size_t(e.index);
      Json lp;
      if (cr.logprobs >= 0 && !e.logprobs.empty()) {
        lps[i].add(e.logprobs, tok);
        lp = lps[i].take();
      }
      if ((!e.delta.text.empty() || !lp.is_null()) && !res.write(sse_data(response(i, e.delta.text, lp, nullptr)))) return false;
      if (e.done && (e.finish_reason == "stop" || e.finish_reason == "length"))
        return res.write(sse_data(response(i, "", nullptr, e.finish_reason)));
      return true;
    });
    if (r.finish_reason == "gone" || r.finish_reason == "cancelled") return;
    if (r.finish_reason == "error") {
      write_error_event(res, r.error);
      return;
    }
    if (cr.include_usage) {
      Json u = response(0, "", nullptr, nullptr);
      u["choices"] = Json::array();
      u["usage"] = usage_json(r);
      res.write(sse_data(u));
    }
    res.write("data: [DONE]\n\n");
    return;
  }
  PumpResult r = pump(*ch, res, cr.n, [&](const SeqEvent& e) {
    texts[size_t(e.index)] += e.delta.text;
    if (cr.logprobs >= 0) lps[size_t(e.index)].add(e.logprobs, tok);
    return true;
  });
  if (r.finish_reason == "gone" || r.finish_reason == "cancelled") {
    res.send(499, "application/json", "{}");
    return;
  }
  if (r.finish_reason == "error") throw ApiError(500, "generation failed: " + r.error, "", "generation_failed", "server_error");
  Json out = response(0, "", nullptr, nullptr);
  out["choices"] = Json::array();
  for (size_t i = 0; i < n; ++i)
    out["choices"].push_back({{"index", i},
                              {"text", texts[i]},
                              {"logprobs", cr.logprobs >= 0 ? lps[i].take() : Json()},
                              {"finish_reason", r.choices[i].finish_reason}});
  out["usage"] = usage_json(r);
  send_json(res, 200, out);
}

}  // namespace g4::server
