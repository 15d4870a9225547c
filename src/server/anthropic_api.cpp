// POST /v1/messages and /v1/messages/count_tokens (see anthropic_api.h): the request mapped onto a
// chat request, the answer's blocks turned into content blocks and Anthropic's streaming events.
#include "server/anthropic_api.h"

#include "runtime/chat.h"
#include "server/api_common.h"
#include "server/request_body.h"
#include "server/server.h"

namespace g4::server {

namespace {

using namespace field;

void check_cache_control(const Json& obj, const std::string& where);

// One text block's text.
std::string text_block(const Json& b, const std::string& bw) {
  if (!b.is_object()) bad(bw, "'" + bw + "' must be an object", "invalid_type");
  const std::string type = req_string(b, "type", bw);
  if (type != "text") bad(path(bw, "type"), "'" + bw + "' must be a text block, not '" + type + "'", "unsupported_content");
  refuse_unknown(b, bw, {"type", "text", "cache_control", "citations"});
  check_cache_control(b, bw);
  if (present(b, "citations") && !(b["citations"].is_array() && b["citations"].empty()))
    unsupported(path(bw, "citations"), "citations are not supported");
  return req_string(b, "text", bw);
}

// A string, or text blocks joined with "\n".
std::string text_blocks(const Json& content, const std::string& where) {
  if (content.is_string()) return content.get<std::string>();
  if (!content.is_array()) bad(where, "'" + where + "' must be a string or an array of text blocks", "invalid_type");
  std::string out;
  for (size_t i = 0; i < content.size(); ++i) {
    if (i > 0) out += "\n";
    out += text_block(content[i], where + "[" + std::to_string(i) + "]");
  }
  return out;
}

void check_cache_control(const Json& obj, const std::string& where) {
  if (!present(obj, "cache_control")) return;
  const Json& cc = obj["cache_control"];
  const std::string w = path(where, "cache_control");
  if (!cc.is_object() || opt_string(cc, "type", w) != "ephemeral") bad(w, "'" + w + "' must be {\"type\": \"ephemeral\"}");
  refuse_unknown(cc, w, {"type", "ttl"});
  const std::string ttl = opt_string(cc, "ttl", w);
  if (!ttl.empty() && ttl != "5m" && ttl != "1h") bad(path(w, "ttl"), "'" + path(w, "ttl") + "' must be '5m' or '1h'");
}

// One image block as a chat image_url part: base64 sources become data: URLs (the chat parser's media
// handling decodes and checks them); url sources are passed on, to be refused there (nothing here fetches).
Json image_part(const Json& b, const std::string& bw, MediaPaths& paths) {
  refuse_unknown(b, bw, {"type", "source", "cache_control"});
  const std::string sw = path(bw, "source");
  if (!present(b, "source") || !b["source"].is_object()) bad(sw, "'" + sw + "' must be an object", "invalid_type");
  const Json& s = b["source"];
  const std::string kind = req_string(s, "type", sw);
  if (kind == "base64") {
    refuse_unknown(s, sw, {"type", "media_type", "data"});
    const std::string mt = req_string(s, "media_type", sw);
    if (mt != "image/png" && mt != "image/jpeg" && mt != "image/gif" && mt != "image/webp" && mt != "image/bmp")
      bad(path(sw, "media_type"), "'" + path(sw, "media_type") + "' must be image/png, image/jpeg, image/gif, image/webp or image/bmp");
    paths.add(bw, path(sw, "data"));
    return {{"type", "image_url"}, {"image_url", {{"url", "data:" + mt + ";base64," + req_string(s, "data", sw)}}}};
  }
  if (kind == "url") {
    refuse_unknown(s, sw, {"type", "url"});
    paths.add(bw, path(sw, "url"));
    return {{"type", "image_url"}, {"image_url", {{"url", req_string(s, "url", sw)}}}};
  }
  bad(path(sw, "type"), "'" + path(sw, "type") + "' must be 'base64' or 'url' (files are not stored here)");
}

// One user message's blocks: text and images gather into user messages, each tool_result becomes a tool
// message (in order).
void user_message(const Json& content, const std::string& w, Json& out, MediaPaths& paths) {
  if (content.is_string()) {
    out.push_back({{"role", "user"}, {"content", content}});
    return;
  }
  if (!content.is_array()) bad(w, "'" + w + "' must be a string or an array of content blocks", "invalid_type");
  if (content.empty()) bad(w, "'" + w + "' must contain at least one content block");
  std::string text;
  bool has_text = false;
  Json parts = Json::array();  // with an image: the message's text and image parts in order
  auto flush_text = [&] {
    if (has_text) parts.push_back({{"type", "text"}, {"text", text}});
    text.clear();
    has_text = false;
  };
  auto flush = [&] {
    bool image = false;
    for (const Json& p : parts) image = image || p["type"] == "image_url";
    if (image) {
      flush_text();
      out.push_back({{"role", "user"}, {"content", parts}});
    } else if (has_text) {
      out.push_back({{"role", "user"}, {"content", text}});
    }
    parts = Json::array();
    text.clear();
    has_text = false;
  };
  for (size_t i = 0; i < content.size(); ++i) {
    const std::string bw = w + "[" + std::to_string(i) + "]";
    const Json& b = content[i];
    if (!b.is_object()) bad(bw, "'" + bw + "' must be an object", "invalid_type");
    const std::string type = req_string(b, "type", bw);
    check_cache_control(b, bw);
    if (type == "text") {
      if (has_text) text += "\n";
      text += text_block(b, bw);
      has_text = true;
    } else if (type == "tool_result") {
      refuse_unknown(b, bw, {"type", "tool_use_id", "content", "is_error", "cache_control"});
      flush();
      std::string result = present(b, "content") ? text_blocks(b["content"], path(bw, "content")) : "";
      if (present(b, "is_error")) {
        if (!b["is_error"].is_boolean()) bad(path(bw, "is_error"), "'" + path(bw, "is_error") + "' must be a boolean", "invalid_type");
        if (b["is_error"].get<bool>()) result = "Error: " + result;
      }
      out.push_back({{"role", "tool"}, {"tool_call_id", req_string(b, "tool_use_id", bw)}, {"content", result}});
    } else if (type == "image") {
      flush_text();
      parts.push_back(image_part(b, bw, paths));
    } else if (type == "document" || type == "search_result") {
      bad(bw, "content blocks of type '" + type + "' are not supported by this server (text and images only)", "unsupported_content");
    } else {
      bad(path(bw, "type"), "content blocks of type '" + type + "' are not allowed in a user message (text, image or tool_result)");
    }
  }
  flush();
}

Json assistant_message(const Json& content, const std::string& w) {
  Json m = {{"role", "assistant"}, {"content", ""}};
  if (content.is_string()) {
    m["content"] = content;
    return m;
  }
  if (!content.is_array()) bad(w, "'" + w + "' must be a string or an array of content blocks", "invalid_type");
  std::string text, reasoning;
  Json calls = Json::array();
  for (size_t i = 0; i < content.size(); ++i) {
    const std::string bw = w + "[" + std::to_string(i) + "]";
    const Json& b = content[i];
    if (!b.is_object()) bad(bw, "'" + bw + "' must be an object", "invalid_type");
    const std::string type = req_string(b, "type", bw);
    check_cache_control(b, bw);
    if (type == "text") {
      if (!text.empty()) text += "\n";
      text += text_block(b, bw);
    } else if (type == "thinking") {
      refuse_unknown(b, bw, {"type", "thinking", "signature"});
      opt_string(b, "signature", bw);
      if (!reasoning.empty()) reasoning += "\n";
      reasoning += req_string(b, "thinking", bw);
    } else if (type == "redacted_thinking") {
      unsupported(bw, "'" + bw + "': redacted_thinking blocks are not supported (this server never redacts thinking)");
    } else if (type == "tool_use") {
      refuse_unknown(b, bw, {"type", "id", "name", "input", "cache_control"});
      if (!present(b, "input") || !b["input"].is_object())
        bad(path(bw, "input"), "'" + path(bw, "input") + "' must be an object", "invalid_type");
      calls.push_back({{"id", req_string(b, "id", bw)},
                       {"type", "function"},
                       {"function", {{"name", req_string(b, "name", bw)}, {"arguments", b["input"]}}}});
    } else {
      bad(path(bw, "type"), "content blocks of type '" + type + "' are not supported in an assistant message (text, thinking or tool_use)",
          "unsupported_content");
    }
  }
  m["content"] = text;
  if (!reasoning.empty()) m["reasoning_content"] = reasoning;
  if (!calls.empty()) m["tool_calls"] = calls;
  return m;
}

Json chat_messages(const Json& body, MediaPaths& paths) {
  Json out = Json::array();
  if (present(body, "system")) out.push_back({{"role", "system"}, {"content", text_blocks(body["system"], "system")}});
  if (!present(body, "messages")) bad("messages", "'messages' is required", "missing_required_parameter");
  const Json& msgs = body["messages"];
  if (!msgs.is_array()) bad("messages", "'messages' must be an array", "invalid_type");
  if (msgs.empty()) bad("messages", "'messages' must contain at least one message");
  for (size_t i = 0; i < msgs.size(); ++i) {
    const std::string w = "messages[" + std::to_string(i) + "]";
    const Json& m = msgs[i];
    if (!m.is_object()) bad(w, "'" + w + "' must be an object", "invalid_type");
    refuse_unknown(m, w, {"role", "content"});
    const std::string role = req_string(m, "role", w);
    if (!present(m, "content")) bad(path(w, "content"), "'" + path(w, "content") + "' is required", "missing_required_parameter");
    if (role == "user") {
      user_message(m["content"], path(w, "content"), out, paths);
    } else if (role == "assistant") {
      if (i + 1 == msgs.size())
        unsupported(w, "'" + w + "': a final assistant message (prefill) is not supported; end with a user message");
      out.push_back(assistant_message(m["content"], path(w, "content")));
    } else {
      bad(path(w, "role"), "'" + path(w, "role") + "' must be 'user' or 'assistant' (the system prompt goes in 'system')");
    }
  }
  return out;
}

Json chat_tools(const Json& tools) {
  if (!tools.is_array()) bad("tools", "'tools' must be an array", "invalid_type");
  Json out = Json::array();
  for (size_t i = 0; i < tools.size(); ++i) {
    const Json& t = tools[i];
    const std::string w = "tools[" + std::to_string(i) + "]";
    if (!t.is_object()) bad(w, "'" + w + "' must be an object", "invalid_type");
    const std::string type = opt_string(t, "type", w);
    if (!type.empty() && type != "custom")
      unsupported(path(w, "type"), "tools of type '" + type + "' are not supported: this server has no server tools (custom tools only)");
    refuse_unknown(t, w, {"type", "name", "description", "input_schema", "strict", "cache_control"});
    check_cache_control(t, w);
    if (!present(t, "input_schema")) bad(path(w, "input_schema"), "'" + path(w, "input_schema") + "' is required", "missing_required_parameter");
    Json fn = {{"name", t.value("name", Json())}, {"parameters", t["input_schema"]}};
    for (const char* k : {"description", "strict"})
      if (present(t, k)) fn[k] = t[k];
    out.push_back({{"type", "function"}, {"function", fn}});
  }
  return out;
}

// tool_choice -> chat's tool_choice and parallel_tool_calls; returns whether a call is forced.
bool map_tool_choice(const Json& tc, Json& chat) {
  const std::string w = "tool_choice";
  if (!tc.is_object()) bad(w, "'tool_choice' must be an object", "invalid_type");
  const std::string type = req_string(tc, "type", w);
  if (type == "none") refuse_unknown(tc, w, {"type"});
  else if (type == "tool") refuse_unknown(tc, w, {"type", "name", "disable_parallel_tool_use"});
  else refuse_unknown(tc, w, {"type", "disable_parallel_tool_use"});
  if (present(tc, "disable_parallel_tool_use")) {
    if (!tc["disable_parallel_tool_use"].is_boolean())
      bad("tool_choice.disable_parallel_tool_use", "'tool_choice.disable_parallel_tool_use' must be a boolean", "invalid_type");
    chat["parallel_tool_calls"] = !tc["disable_parallel_tool_use"].get<bool>();
  }
  if (type == "auto") chat["tool_choice"] = "auto";
  else if (type == "none") chat["tool_choice"] = "none";
  else if (type == "any") chat["tool_choice"] = "required";
  else if (type == "tool") chat["tool_choice"] = {{"type", "function"}, {"function", {{"name", req_string(tc, "name", w)}}}};
  else bad("tool_choice.type", "'tool_choice.type' must be 'auto', 'any', 'tool' or 'none'");
  return type == "any" || type == "tool";
}

// thinking -> enable_thinking; returns the budget (-1: none).
int64_t map_thinking(const Json& th, Json& chat, const Json& body, bool count_tokens) {
  const std::string w = "thinking";
  if (!th.is_object()) bad(w, "'thinking' must be an object", "invalid_type");
  const std::string type = req_string(th, "type", w);
  if (type == "disabled" || type == "adaptive") {
    refuse_unknown(th, w, {"type"});
    chat["enable_thinking"] = type == "adaptive";
    return -1;
  }
  if (type != "enabled") bad("thinking.type", "'thinking.type' must be 'enabled', 'adaptive' or 'disabled'");
  refuse_unknown(th, w, {"type", "budget_tokens"});
  if (!present(th, "budget_tokens") || !th["budget_tokens"].is_number_integer() || th["budget_tokens"].get<int64_t>() < 1)
    bad("thinking.budget_tokens", "'thinking.budget_tokens' must be an integer >= 1");
  const int64_t budget = th["budget_tokens"].get<int64_t>();
  if (!count_tokens && body["max_tokens"].is_number_integer() && budget >= body["max_tokens"].get<int64_t>())
    bad("thinking.budget_tokens", "'thinking.budget_tokens' must be less than 'max_tokens'");
  chat["enable_thinking"] = true;
  return budget;
}

struct Refusal {
  const char* key;
  const char* why;
};
constexpr Refusal kRefused[] = {
    {"container", "there are no code-execution containers"},
    {"mcp_servers", "MCP servers are not supported"},
    {"context_management", "context management is not supported"},
    {"output_config", "output configuration (effort, structured output) is not supported"},
    {"inference_geo", "the model runs on this machine"},
    {"speed", "there is one speed"},
    {"diagnostics", "diagnostics are not supported"},
};

}  // namespace

std::string messages_param(const std::string& p) {
  if (p == "max_completion_tokens") return "max_tokens";
  if (p == "stop") return "stop_sequences";
  if (p == "enable_thinking") return "thinking";
  if (p == "user") return "metadata.user_id";
  // Image blocks' fields are already named in this API's terms (MediaPaths: "messages[0].content[1].source.data").
  if (p.rfind("messages", 0) == 0 && p.find(".source") != std::string::npos) return p;
  if (p.rfind("messages", 0) == 0) return "messages";  // chat messages do not map one to one
  if (p.rfind("tools[", 0) == 0) {
    std::string q = p;
    size_t at = q.find(".function.parameters");
    if (at != std::string::npos) return q.replace(at, 20, ".input_schema");
    at = q.find(".function");
    if (at != std::string::npos) q.erase(at, 9);
    return q;
  }
  return p;
}

MessagesRequest parse_messages_request(const Json& body, const ParseContext& ctx, bool count_tokens) {
  if (!body.is_object()) throw ApiError(400, "the request body must be a JSON object", "", "invalid_type");
  for (const Refusal& r : kRefused)
    if (present(body, r.key)) unsupported(r.key, "'" + std::string(r.key) + "' is not supported: " + r.why);
  if (count_tokens)
    refuse_unknown(body, "", {"model", "messages", "system", "tools", "tool_choice", "thinking", "cache_control"});
  else
    refuse_unknown(body, "", {"model", "messages", "max_tokens", "system", "stop_sequences", "stream", "temperature", "top_p", "top_k",
                              "tools", "tool_choice", "thinking", "metadata", "service_tier", "cache_control"});
  check_cache_control(body, "");
  MediaPaths media_paths;
  Json chat = {{"messages", chat_messages(body, media_paths)}};
  if (!present(body, "model")) bad("model", "'model' is required", "missing_required_parameter");
  chat["model"] = body["model"];
  if (!count_tokens) {
    if (!present(body, "max_tokens")) bad("max_tokens", "'max_tokens' is required", "missing_required_parameter");
    if (!body["max_tokens"].is_number_integer() || body["max_tokens"].get<int64_t>() < 1)
      bad("max_tokens", "'max_tokens' must be an integer >= 1");
    chat["max_completion_tokens"] = body["max_tokens"];
  }
  if (present(body, "temperature")) {
    const Json& t = body["temperature"];
    if (!t.is_number() || t.get<double>() < 0 || t.get<double>() > 1) bad("temperature", "'temperature' must be a number between 0 and 1");
  }
  for (const char* k : {"temperature", "top_p", "top_k", "stream"})
    if (present(body, k)) chat[k] = body[k];
  if (present(body, "stop_sequences")) {
    if (!body["stop_sequences"].is_array()) bad("stop_sequences", "'stop_sequences' must be an array of strings", "invalid_type");
    chat["stop"] = body["stop_sequences"];
  }
  if (present(body, "metadata")) {
    const Json& md = body["metadata"];
    if (!md.is_object()) bad("metadata", "'metadata' must be an object", "invalid_type");
    refuse_unknown(md, "metadata", {"user_id"});
    if (present(md, "user_id")) chat["user"] = md["user_id"];
  }
  const std::string tier = opt_string(body, "service_tier", "");
  if (!tier.empty() && tier != "auto" && tier != "standard_only")
    bad("service_tier", "'service_tier' must be 'auto' or 'standard_only'");
  if (present(body, "tools")) chat["tools"] = chat_tools(body["tools"]);
  const bool forced = present(body, "tool_choice") && map_tool_choice(body["tool_choice"], chat);
  MessagesRequest r;
  if (present(body, "thinking")) {
    r.thinking_budget = map_thinking(body["thinking"], chat, body, count_tokens);
    r.thinking_forced = body["thinking"].value("type", "") == "enabled";
  }
  if (forced && chat.value("enable_thinking", false))
    bad("tool_choice", "thinking may not be enabled when 'tool_choice' forces tool use ('any' or 'tool')");
  try {
    r.chat = parse_chat_request(chat, ctx);
  } catch (const ApiError& e) {
    throw renamed(e, messages_param);
  }
  media_paths.apply(r.chat.media);
  return r;
}

bool is_anthropic_path(const std::string& path) { return path == "/v1/messages" || path.rfind("/v1/messages/", 0) == 0; }

std::string anthropic_error_body(const ApiError& e) {
  const char* type = "invalid_request_error";
  switch (e.status) {
    case 401: type = "authentication_error"; break;
    case 403: type = "permission_error"; break;
    case 404: type = "not_found_error"; break;
    case 413: type = "request_too_large"; break;
    case 429: type = "rate_limit_error"; break;
    case 503:
    case 529: type = "overloaded_error"; break;
    default: type = e.status >= 500 ? "api_error" : "invalid_request_error";
  }
  return json_text({{"type", "error"}, {"error", {{"type", type}, {"message", e.what()}}}});
}

namespace {

// The answer of one /v1/messages request, streamed as events or whole: content blocks as the
// answer's blocks open, grow and close.
class MessagesReply final : public BlockSink {
 public:
  MessagesReply(const MessagesRequest& mr, const Tokenizer& tok, std::string model, HttpResponse& res, int prompt_tokens)
      : mr_(mr), tok_(tok), model_(std::move(model)), res_(res), id_(random_id("msg_")), prompt_tokens_(prompt_tokens),
        splitter_(mr.chat.parallel_tool_calls) {}

  void stream(SeqChannel& ch) {
    if (!res_.start_stream(200, "text/event-stream")) {
      ch.cancel();
      return;
    }
    streaming_ = true;
    Json start = message();
    start["usage"] = usage(prompt_tokens_, 0, 0);
    if (!emit("message_start", {{"message", start}}) || !emit("ping", Json::object())) {
      ch.cancel();
      return;
    }
    PumpResult r = run(ch);
    if (r.finish_reason == "gone" || r.finish_reason == "cancelled") return;
    if (r.finish_reason == "error") {
      res_.write("event: error\ndata: " + anthropic_error_body(ApiError(500, r.error)) + "\n\n");
      return;
    }
    if (!splitter_.finish(*this)) return;
    const auto [reason, sequence] = stop_reason(r);
    if (!emit("message_delta", {{"delta", {{"stop_reason", reason}, {"stop_sequence", sequence}}},
                                {"usage", usage(r.prompt_tokens, r.cached_tokens, r.completion_tokens)}}))
      return;
    emit("message_stop", Json::object());
  }

  void whole(SeqChannel& ch) {
    PumpResult r = run(ch);
    if (r.finish_reason == "gone" || r.finish_reason == "cancelled") {
      res_.send(499, "application/json", "{}");
      return;
    }
    if (r.finish_reason == "error") throw ApiError(500, "generation failed: " + r.error, "", "generation_failed", "server_error");
    splitter_.finish(*this);
    Json out = message();
    const auto [reason, sequence] = stop_reason(r);
    out["stop_reason"] = reason;
    out["stop_sequence"] = sequence;
    out["usage"] = usage(r.prompt_tokens, r.cached_tokens, r.completion_tokens);
    send_json(res_, 200, out);
  }

  bool open(Kind kind, const ToolCallDelta* call) override {
    text_.clear();
    Json block;
    if (kind == Kind::Reasoning) block = {{"type", "thinking"}, {"thinking", ""}, {"signature", ""}};
    else if (kind == Kind::Text) block = {{"type", "text"}, {"text", ""}};
    else block = {{"type", "tool_use"}, {"id", random_id("toolu_")}, {"name", call->name}, {"input", Json::object()}};
    content_.push_back(block);
    return emit("content_block_start", {{"index", index()}, {"content_block", block}});
  }

  bool append(Kind kind, const std::string& text) override {
    text_ += text;
    Json delta = kind == Kind::Reasoning ? Json{{"type", "thinking_delta"}, {"thinking", text}}
                 : kind == Kind::Text    ? Json{{"type", "text_delta"}, {"text", text}}
                                         : Json{{"type", "input_json_delta"}, {"partial_json", text}};
    return emit("content_block_delta", {{"index", index()}, {"delta", delta}});
  }

  bool close(Kind kind) override {
    Json& block = content_.back();
    if (kind == Kind::Reasoning) {
      block["thinking"] = text_;
      // An opaque token, as Anthropic's clients expect one; nothing checks it when it comes back.
      block["signature"] = random_id("sig_");
      if (!emit("content_block_delta", {{"index", index()}, {"delta", {{"type", "signature_delta"}, {"signature", block["signature"]}}}}))
        return false;
    } else if (kind == Kind::Text) {
      block["text"] = text_;
    } else {
      Json input = Json::parse(text_, nullptr, false);
      block["input"] = input.is_object() ? input : Json::object();
    }
    return emit("content_block_stop", {{"index", index()}});
  }

 private:
  PumpResult run(SeqChannel& ch) {
    return pump(ch, res_, 1, [&](const SeqEvent& e) {
      text_out_ += e.delta.text;
      for (const TokenLogprobs& lp : e.logprobs) tokens_out_ += tok_.token_bytes(lp.id);
      n_reported_ += e.logprobs.size();
      return splitter_.push(e.delta, *this);
    });
  }

  // A stop string ended the answer when every generated token was reported (the engine reports all
  // but end-of-generation tokens: SeqRequest::logprobs is on whenever stop_sequences are given); the
  // one that matched starts where the shown text ends.
  std::pair<std::string, Json> stop_reason(const PumpResult& r) const {
    if (r.finish_reason == "length") return {"max_tokens", nullptr};
    if (splitter_.tool_calls() > 0) return {"tool_use", nullptr};
    const std::vector<std::string>& stops = mr_.chat.stop;
    if (!stops.empty() && n_reported_ == size_t(r.completion_tokens) && r.completion_tokens > 0) {
      const std::string* best = nullptr;
      for (const std::string& s : stops)
        if (!s.empty() && tokens_out_.compare(std::min(text_out_.size(), tokens_out_.size()), s.size(), s) == 0 &&
            (!best || s.size() < best->size()))
          best = &s;
      if (!best) {  // the shown text and the tokens' bytes disagree (a cut character): the first one found
        size_t at = std::string::npos;
        for (const std::string& s : stops) {
          size_t p = s.empty() ? std::string::npos : tokens_out_.find(s, text_out_.size() > 8 ? text_out_.size() - 8 : 0);
          if (p < at) at = p, best = &s;
        }
      }
      if (best) return {"stop_sequence", *best};
    }
    return {"end_turn", nullptr};
  }

  Json message() const {
    return {{"id", id_}, {"type", "message"}, {"role", "assistant"}, {"model", model_}, {"content", content_},
            {"stop_reason", nullptr}, {"stop_sequence", nullptr}};
  }
  static Json usage(int prompt, int cached, int output) {
    return {{"input_tokens", prompt - cached}, {"cache_creation_input_tokens", 0}, {"cache_read_input_tokens", cached},
            {"output_tokens", output}};
  }
  int index() const { return int(content_.size()) - 1; }

  bool emit(const char* type, Json fields) {
    if (!streaming_) return true;
    Json e = {{"type", type}};
    for (auto it = fields.begin(); it != fields.end(); ++it) e[it.key()] = std::move(it.value());
    return res_.write(std::string("event: ") + type + "\ndata: " + json_text(e) + "\n\n");
  }

  const MessagesRequest& mr_;
  const Tokenizer& tok_;
  const std::string model_;
  HttpResponse& res_;
  const std::string id_;
  const int prompt_tokens_;
  BlockSplitter splitter_;
  bool streaming_ = false;
  Json content_ = Json::array();
  std::string text_;                   // the open block's text (or a call's arguments)
  std::string text_out_, tokens_out_;  // all shown text; the bytes of every reported token
  size_t n_reported_ = 0;              // tokens reported (all but end-of-generation tokens)
};

}  // namespace

void ApiServer::messages(const HttpRequest& req, HttpResponse& res) {
  Json body = parse_json_checked(req.body);
  MessagesRequest mr = parse_messages_request(body, parse_context());
  check_model(mr.chat.model);
  SeqRequest sr;
  try {
    sr = chat_request(mr.chat);
  } catch (const ApiError& e) {
    throw renamed(e, messages_param);
  }
  if (mr.thinking_forced && !sr.constraint)
    sr.constraint = make_thinking_constraint(chat_->tokenizer(), model_->config().vocab_size, sr.start_in_reasoning, true, mr.thinking_budget);
  if (!mr.chat.stop.empty()) sr.logprobs = std::max(sr.logprobs, 0);  // to tell a stop string from an end token
  const int prompt_tokens = int(sr.prompt.size());
  std::shared_ptr<SeqChannel> ch = submit(std::move(sr), res);
  MessagesReply reply(mr, chat_->tokenizer(), opt_.model_id, res, prompt_tokens);
  if (mr.chat.stream) reply.stream(*ch);
  else reply.whole(*ch);
}

void ApiServer::count_tokens(const HttpRequest& req, HttpResponse& res) {
  Json body = parse_json_checked(req.body);
  MessagesRequest mr = parse_messages_request(body, parse_context(), /*count_tokens=*/true);
  check_model(mr.chat.model);
  try {
    SeqRequest sr = chat_request(mr.chat);
    send_json(res, 200, {{"input_tokens", sr.prompt.size()}});
  } catch (const ApiError& e) {
    throw renamed(e, messages_param);
  }
}

}  // namespace g4::server
