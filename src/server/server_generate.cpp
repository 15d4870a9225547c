// The text-generation endpoints: POST /v1/chat/completions and POST /v1/completions.
#include <algorithm>
#include <ctime>
#include <limits>

#include "core/error.h"
#include "server/api_common.h"
#include "server/server.h"

namespace g4::server {

namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

static Json parse_body(const HttpRequest& req) {
  if (req.body.empty()) throw ApiError(400, "the request body is empty; send a JSON object", "", "invalid_json");
  try {
    return Json::parse(req.body);
  } catch (const Json::exception& e) {  // parse_error, or out_of_range for a number too large
    throw ApiError(400, std::string("the request body is not valid JSON: ") + e.what(), "", "invalid_json");
  }
}

void ApiServer::chat_completions(const HttpRequest& req, HttpResponse& res) {
  Json body = parse_body(req);
  ParseContext pc{opt_.defaults, opt_.fixed_seed, opt_.default_max_tokens, model_->config().vocab_size};
  ChatRequest cr = parse_chat_request(body, pc);
  check_model(cr.model);

  const Tokenizer& tok = chat_->tokenizer();
  ChatOptions co;
  co.enable_thinking = cr.enable_thinking;
  co.extra_context = cr.template_kwargs;
  std::vector<int32_t> prompt;
  try {
    std::lock_guard<std::mutex> lk(render_mu_);
    prompt = chat_->prompt_ids(cr.messages, cr.tools, co);
  } catch (const Error& e) {
    throw ApiError(400, std::string("cannot format the messages with the chat template: ") + e.what(), "messages");
  }
  if (int64_t(prompt.size()) >= opt_.scheduler.ctx)
    throw ApiError(400,
                   "This model's maximum context length is " + std::to_string(opt_.scheduler.ctx) + " tokens, but the messages take " +
                       std::to_string(prompt.size()) + " tokens. Shorten the messages or start the server with a larger --ctx.",
                   "messages", "context_length_exceeded");

  SeqRequest sr;
  sr.prompt = prompt;
  sr.sampling = cr.sampling;
  sr.stop.eog_ids = eog_ids();
  sr.stop.stop_strings = cr.stop;
  sr.stop.max_tokens = cr.max_tokens;
  {
    size_t k = std::min<size_t>(prompt.size(), 4);
    std::vector<int32_t> tail(prompt.end() - long(k), prompt.end());
    sr.start_in_reasoning = ends_with(tok.decode(tail), "<|channel>thought\n");
  }
  const bool forced_tool = cr.tool_choice == ToolChoice::Required || cr.tool_choice == ToolChoice::Named;
  try {
    if (forced_tool) {
      std::vector<ForcedTool> ft;
      for (const Json& t : cr.tools) {
        std::string name = t["function"]["name"].get<std::string>();
        if (cr.tool_choice == ToolChoice::Named && name != cr.tool_name) continue;
        ft.push_back({name, tool_arguments_constraint(t["function"]["parameters"])});
      }
      sr.constraint = make_tool_call_constraint(ctokens_, std::move(ft));
      sr.start_in_reasoning = false;
    } else if (cr.json) {
      sr.constraint = make_json_constraint(ctokens_, std::move(cr.json), sr.stop.eog_ids);
      sr.start_in_reasoning = false;
    }
    if (cr.tool_choice == ToolChoice::None || cr.tools.empty()) {
      if (auto id = tok.find_token("<|tool_call>")) {
        if (!forced_tool) sr.sampling.logit_bias[*id] = -std::numeric_limits<float>::infinity();
      }
    }
  } catch (const Error& e) {
    throw ApiError(400, e.what(), "tool_choice");
  }

  std::shared_ptr<SeqChannel> ch;
  try {
    ch = scheduler_->submit(std::move(sr));
  } catch (const QueueFull& e) {
    ++rejected_busy_;
    res.set_header("Retry-After", "1");
    throw ApiError(503, e.what(), "", "server_busy", "server_overloaded");
  } catch (const Error& e) {
    throw ApiError(400, e.what());
  }

  const std::string id = random_id("chatcmpl-");
  const int64_t created = int64_t(std::time(nullptr));
  const std::string model = opt_.model_id;
  int n_calls = 0;
  auto tool_call_json = [&](const ToolCallDelta& tc) {
    ++n_calls;
    return Json{{"index", tc.index},
                {"id", random_id("call_")},
                {"type", "function"},
                {"function", {{"name", tc.name}, {"arguments", tc.arguments_json}}}};
  };
  auto finish_reason = [&](const PumpResult& r) -> std::string {
    if (r.finish_reason == "stop" && n_calls > 0) return "tool_calls";
    return r.finish_reason;
  };

  if (cr.stream) {
    auto chunk = [&](Json delta, Json finish) {
      return Json{{"id", id},
                  {"object", "chat.completion.chunk"},
                  {"created", created},
                  {"model", model},
                  {"system_fingerprint", kFingerprint},
                  {"choices", Json::array({{{"index", 0}, {"delta", std::move(delta)}, {"logprobs", nullptr}, {"finish_reason", std::move(finish)}}})}};
    };
    if (!res.start_stream(200, "text/event-stream")) {
      ch->cancel();
      return;
    }
    if (!res.write(sse_data(chunk({{"role", "assistant"}, {"content", ""}}, nullptr)))) {
      ch->cancel();
      return;
    }
    PumpResult r = pump(*ch, res, [&](const AnswerStream::Delta& d) {
      Json delta = Json::object();
      if (!d.reasoning.empty()) delta["reasoning_content"] = d.reasoning;
      if (!d.content.empty()) delta["content"] = d.content;
      if (!d.tool_calls.empty()) {
        Json calls = Json::array();
        for (const ToolCallDelta& tc : d.tool_calls) calls.push_back(tool_call_json(tc));
        delta["tool_calls"] = calls;
      }
      if (delta.empty()) return true;
      return res.write(sse_data(chunk(delta, nullptr)));
    });
    if (r.finish_reason == "gone" || r.finish_reason == "cancelled") return;
    if (r.finish_reason == "error") {
      res.write(sse_data({{"error", {{"message", r.error}, {"type", "server_error"}, {"param", nullptr}, {"code", "generation_failed"}}}}));
      res.write("data: [DONE]\n\n");
      return;
    }
    res.write(sse_data(chunk(Json::object(), finish_reason(r))));
    if (cr.include_usage) {
      Json u = chunk(Json::object(), nullptr);
      u["choices"] = Json::array();
      u["usage"] = usage_json(r);
      res.write(sse_data(u));
    }
    res.write("data: [DONE]\n\n");
    return;
  }

  std::string content, reasoning;
  Json calls = Json::array();
  PumpResult r = pump(*ch, res, [&](const AnswerStream::Delta& d) {
    content += d.content;
    reasoning += d.reasoning;
    for (const ToolCallDelta& tc : d.tool_calls) calls.push_back(tool_call_json(tc));
    return true;
  });
  if (r.finish_reason == "gone" || r.finish_reason == "cancelled") {
    res.send(499, "application/json", "{}");
    return;
  }
  if (r.finish_reason == "error") throw ApiError(500, "generation failed: " + r.error, "", "generation_failed", "server_error");
  for (Json& c : calls) c.erase("index");
  Json msg = {{"role", "assistant"}, {"content", content}};
  if (!calls.empty()) {
    msg["tool_calls"] = calls;
    if (content.empty()) msg["content"] = nullptr;
  }
  if (!reasoning.empty()) msg["reasoning_content"] = reasoning;
  send_json(res, 200,
            {{"id", id},
             {"object", "chat.completion"},
             {"created", created},
             {"model", model},
             {"system_fingerprint", kFingerprint},
             {"choices", Json::array({{{"index", 0}, {"message", msg}, {"logprobs", nullptr}, {"finish_reason", finish_reason(r)}}})},
             {"usage", usage_json(r)}});
}

void ApiServer::completions(const HttpRequest& req, HttpResponse& res) {
  Json body = parse_body(req);
  ParseContext pc{opt_.defaults, opt_.fixed_seed, opt_.default_max_tokens, model_->config().vocab_size};
  CompletionRequest cr = parse_completion_request(body, pc);
  check_model(cr.model);
  const Tokenizer& tok = chat_->tokenizer();
  std::vector<int32_t> prompt = cr.has_ids ? cr.prompt_ids : tok.encode(cr.prompt, /*parse_special=*/true, /*add_bos=*/true);
  if (prompt.empty()) throw ApiError(400, "the prompt is empty", "prompt");
  if (int64_t(prompt.size()) >= opt_.scheduler.ctx)
    throw ApiError(400,
                   "This model's maximum context length is " + std::to_string(opt_.scheduler.ctx) + " tokens, but the prompt has " +
                       std::to_string(prompt.size()) + " tokens.",
                   "prompt", "context_length_exceeded");
  SeqRequest sr;
  sr.prompt = prompt;
  sr.sampling = cr.sampling;
  sr.stop.eog_ids = eog_ids();
  sr.stop.stop_strings = cr.stop;
  sr.stop.max_tokens = cr.max_tokens;
  std::shared_ptr<SeqChannel> ch;
  try {
    ch = scheduler_->submit(std::move(sr));
  } catch (const QueueFull& e) {
    ++rejected_busy_;
    res.set_header("Retry-After", "1");
    throw ApiError(503, e.what(), "", "server_busy", "server_overloaded");
  } catch (const Error& e) {
    throw ApiError(400, e.what());
  }
  const std::string id = random_id("cmpl-");
  const int64_t created = int64_t(std::time(nullptr));
  std::string echo;
  if (cr.echo) echo = cr.has_ids ? tok.decode(cr.prompt_ids) : cr.prompt;
  auto choice = [&](const std::string& text, Json finish) {
    return Json{{"id", id},
                {"object", "text_completion"},
                {"created", created},
                {"model", opt_.model_id},
                {"system_fingerprint", kFingerprint},
                {"choices", Json::array({{{"index", 0}, {"text", text}, {"logprobs", nullptr}, {"finish_reason", std::move(finish)}}})}};
  };
  if (cr.stream) {
    if (!res.start_stream(200, "text/event-stream")) {
      ch->cancel();
      return;
    }
    if (!echo.empty() && !res.write(sse_data(choice(echo, nullptr)))) {
      ch->cancel();
      return;
    }
    PumpResult r = pump(*ch, res, [&](const AnswerStream::Delta& d) {
      if (d.text.empty()) return true;
      return res.write(sse_data(choice(d.text, nullptr)));
    });
    if (r.finish_reason == "gone" || r.finish_reason == "cancelled") return;
    if (r.finish_reason == "error") {
      res.write(sse_data({{"error", {{"message", r.error}, {"type", "server_error"}, {"param", nullptr}, {"code", "generation_failed"}}}}));
      res.write("data: [DONE]\n\n");
      return;
    }
    res.write(sse_data(choice("", r.finish_reason)));
    if (cr.include_usage) {
      Json u = choice("", nullptr);
      u["choices"] = Json::array();
      u["usage"] = usage_json(r);
      res.write(sse_data(u));
    }
    res.write("data: [DONE]\n\n");
    return;
  }
  std::string text = echo;
  PumpResult r = pump(*ch, res, [&](const AnswerStream::Delta& d) {
    text += d.text;
    return true;
  });
  if (r.finish_reason == "gone" || r.finish_reason == "cancelled") {
    res.send(499, "application/json", "{}");
    return;
  }
  if (r.finish_reason == "error") throw ApiError(500, "generation failed: " + r.error, "", "generation_failed", "server_error");
  Json out = choice(text, r.finish_reason);
  out["usage"] = usage_json(r);
  send_json(res, 200, out);
}

}  // namespace g4::server
