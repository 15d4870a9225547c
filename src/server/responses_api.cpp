// POST /v1/responses (see responses_api.h): the request mapped onto a chat request, the answer's blocks
// turned into output items and streaming events.
#include "server/responses_api.h"

#include <cmath>
#include <ctime>

#include "server/api_common.h"
#include "server/request_body.h"
#include "server/server.h"

namespace g4::server {

namespace {

using namespace field;

// Text of a message's content: a string or a list of parts. `assistant`: output_text and refusal parts
// (an earlier answer passed back) are allowed too.
std::string parts_text(const Json& content, const std::string& where, bool assistant) {
  if (content.is_string()) return content.get<std::string>();
  if (!content.is_array()) bad(where, "'" + where + "' must be a string or an array of content parts", "invalid_type");
  std::string out;
  for (size_t i = 0; i < content.size(); ++i) {
    const Json& part = content[i];
    const std::string pw = where + "[" + std::to_string(i) + "]";
    if (!part.is_object()) bad(pw, "'" + pw + "' must be an object", "invalid_type");
    const std::string type = req_string(part, "type", pw);
    if (type == "input_text" || (assistant && type == "output_text")) {
      if (type == "input_text") refuse_unknown(part, pw, {"type", "text"});
      else refuse_unknown(part, pw, {"type", "text", "annotations", "logprobs"});
      out += req_string(part, "text", pw);
    } else if (assistant && type == "refusal") {
      refuse_unknown(part, pw, {"type", "refusal"});
      out += req_string(part, "refusal", pw);  // what the assistant said instead of an answer
    } else if (type == "input_image" || type == "input_audio") {
      bad(pw, "content parts of type '" + type + "' are allowed in user messages only", "unsupported_content");
    } else if (type == "input_file") {
      bad(pw, "content parts of type 'input_file' are not supported by this server (send images as input_image)", "unsupported_content");
    } else {
      bad(path(pw, "type"), "content parts of type '" + type + "' are not allowed here (" +
                                (assistant ? "output_text, refusal or input_text" : "input_text") + ")");
    }
  }
  return out;
}

// A user message's content with pictures or sound: the chat parts in order (input_text -> text,
// input_image -> image_url, input_audio as in chat), for the chat parser's media handling (which resolves
// and checks the media and names the field in its errors). Null when the content has no media parts.
Json media_parts(const Json& content, const std::string& where, MediaPaths& paths) {
  if (!content.is_array()) return nullptr;
  bool any = false;
  for (const Json& p : content)
    any = any || (p.is_object() && (p.value("type", "") == "input_image" || p.value("type", "") == "input_audio"));
  if (!any) return nullptr;
  Json parts = Json::array();
  for (size_t i = 0; i < content.size(); ++i) {
    const Json& part = content[i];
    const std::string pw = where + "[" + std::to_string(i) + "]";
    const std::string type = part.is_object() ? part.value("type", "") : "";
    if (type == "input_image") {
      refuse_unknown(part, pw, {"type", "image_url", "detail", "file_id"});
      if (present(part, "file_id")) unsupported(path(pw, "file_id"), "'" + path(pw, "file_id") + "': this server stores no files; send the image as a base64 data: URL in image_url");
      Json url = {{"url", req_string(part, "image_url", pw)}};
      if (present(part, "detail")) url["detail"] = part["detail"];  // the chat parser accepts "auto" and names the rest
      parts.push_back({{"type", "image_url"}, {"image_url", url}});
      paths.add(pw, path(pw, "image_url"));
    } else if (type == "input_audio") {
      refuse_unknown(part, pw, {"type", "input_audio"});
      parts.push_back(part);
      paths.add(pw, path(pw, "input_audio.data"));
    } else {
      parts.push_back({{"type", "text"}, {"text", parts_text(Json::array({part}), pw, false)}});
    }
  }
  return parts;
}

// The input items as chat messages.
class InputMapper {
 public:
  Json messages = Json::array();
  MediaPaths media_paths;  // where each input_image / input_audio was

  void item(const Json& it, const std::string& w) {
    if (!it.is_object()) bad(w, "'" + w + "' must be an object", "invalid_type");
    std::string type = opt_string(it, "type", w);
    if (type.empty() || type == "message") message(it, w);
    else if (type == "function_call") function_call(it, w);
    else if (type == "function_call_output") function_call_output(it, w);
    else if (type == "reasoning") reasoning(it, w);
    else if (type == "item_reference")
      unsupported(w, "'" + w + "': item references need stored items and this server stores none; send the items themselves");
    else
      unsupported(path(w, "type"), "input items of type '" + type +
                                       "' are not supported (message, function_call, function_call_output and reasoning are)");
  }

  void finish() {
    if (!pending_reasoning_.empty())
      bad(reasoning_where_, "'" + reasoning_where_ + "': a reasoning item must be followed by the assistant message or function call it belongs to");
  }

 private:
  void message(const Json& it, const std::string& w) {
    refuse_unknown(it, w, {"type", "role", "content", "id", "status"});
    const std::string role = req_string(it, "role", w);
    if (!present(it, "content")) bad(path(w, "content"), "'" + path(w, "content") + "' is required", "missing_required_parameter");
    if (role == "user") {
      Json parts = media_parts(it["content"], path(w, "content"), media_paths);
      messages.push_back({{"role", role}, {"content", parts.is_null() ? Json(parts_text(it["content"], path(w, "content"), false)) : parts}});
    } else if (role == "system" || role == "developer") {
      messages.push_back({{"role", role}, {"content", parts_text(it["content"], path(w, "content"), false)}});
    } else if (role == "assistant") {
      Json m = {{"role", "assistant"}, {"content", parts_text(it["content"], path(w, "content"), true)}};
      take_reasoning(m);
      messages.push_back(std::move(m));
    } else {
      bad(path(w, "role"), "unknown role '" + role + "' (expected user, system, developer or assistant)");
    }
  }

  void function_call(const Json& it, const std::string& w) {
    refuse_unknown(it, w, {"type", "id", "call_id", "name", "arguments", "status"});
    Json call = {{"id", req_string(it, "call_id", w)},
                 {"type", "function"},
                 {"function", {{"name", req_string(it, "name", w)}, {"arguments", req_string(it, "arguments", w)}}}};
    // Calls after an assistant message belong to its turn (one answer: text, then calls).
    if (messages.empty() || messages.back()["role"] != "assistant" || !pending_reasoning_.empty()) {
      Json m = {{"role", "assistant"}, {"content", nullptr}};
      take_reasoning(m);
      messages.push_back(std::move(m));
    }
    Json& m = messages.back();
    if (!m.contains("tool_calls")) m["tool_calls"] = Json::array();
    m["tool_calls"].push_back(std::move(call));
  }

  void function_call_output(const Json& it, const std::string& w) {
    refuse_unknown(it, w, {"type", "id", "call_id", "output", "status"});
    const std::string call_id = req_string(it, "call_id", w);
    if (!present(it, "output")) bad(path(w, "output"), "'" + path(w, "output") + "' is required", "missing_required_parameter");
    messages.push_back({{"role", "tool"}, {"tool_call_id", call_id}, {"content", parts_text(it["output"], path(w, "output"), false)}});
  }

  void reasoning(const Json& it, const std::string& w) {
    refuse_unknown(it, w, {"type", "id", "summary", "content", "encrypted_content", "status"});
    if (present(it, "encrypted_content"))
      unsupported(path(w, "encrypted_content"), "'" + path(w, "encrypted_content") +
                                                    "' is not supported: this server never encrypts reasoning; pass its content back");
    auto texts = [&](const char* key, const char* part_type) {
      std::string out;
      if (!present(it, key)) return out;
      const Json& a = it[key];
      const std::string aw = path(w, key);
      if (!a.is_array()) bad(aw, "'" + aw + "' must be an array", "invalid_type");
      for (size_t i = 0; i < a.size(); ++i) {
        const std::string pw = aw + "[" + std::to_string(i) + "]";
        if (!a[i].is_object() || opt_string(a[i], "type", pw) != part_type)
          bad(pw, "'" + pw + "' must be a '" + part_type + "' part", "invalid_type");
        refuse_unknown(a[i], pw, {"type", "text"});
        if (!out.empty()) out += "\n";
        out += req_string(a[i], "text", pw);
      }
      return out;
    };
    std::string text = texts("content", "reasoning_text");
    std::string summary = texts("summary", "summary_text");
    if (text.empty()) text = summary;
    if (!pending_reasoning_.empty() && !text.empty()) pending_reasoning_ += "\n";
    pending_reasoning_ += text;
    reasoning_where_ = w;
    if (pending_reasoning_.empty()) reasoning_where_.clear();
  }

  void take_reasoning(Json& m) {
    if (!pending_reasoning_.empty()) m["reasoning_content"] = pending_reasoning_;
    pending_reasoning_.clear();
    reasoning_where_.clear();
  }

  std::string pending_reasoning_, reasoning_where_;
};

Json input_messages(const Json& body, MediaPaths& media_paths) {
  InputMapper in;
  if (present(body, "instructions")) {
    if (!body["instructions"].is_string()) bad("instructions", "'instructions' must be a string", "invalid_type");
    in.messages.push_back({{"role", "system"}, {"content", body["instructions"]}});
  }
  if (!present(body, "input")) bad("input", "'input' is required (this server stores no earlier responses)", "missing_required_parameter");
  const Json& input = body["input"];
  if (input.is_string()) {
    in.messages.push_back({{"role", "user"}, {"content", input}});
  } else if (input.is_array()) {
    if (input.empty()) bad("input", "'input' must contain at least one item");
    for (size_t i = 0; i < input.size(); ++i) in.item(input[i], "input[" + std::to_string(i) + "]");
    in.finish();
  } else {
    bad("input", "'input' must be a string or an array of input items", "invalid_type");
  }
  media_paths = in.media_paths;
  return in.messages;
}

// Function tools, flat ({type, name, description, parameters, strict}) -> chat's nested shape; `flat`
// gets them as the response object repeats them.
Json chat_tools(const Json& tools, Json& flat) {
  if (!tools.is_array()) bad("tools", "'tools' must be an array", "invalid_type");
  Json out = Json::array();
  for (size_t i = 0; i < tools.size(); ++i) {
    const Json& t = tools[i];
    const std::string w = "tools[" + std::to_string(i) + "]";
    if (!t.is_object()) bad(w, "'" + w + "' must be an object", "invalid_type");
    const std::string type = req_string(t, "type", w);
    if (type != "function")
      unsupported(path(w, "type"), "tools of type '" + type + "' are not supported: this server has no built-in tools (only 'function')");
    refuse_unknown(t, w, {"type", "name", "description", "parameters", "strict", "defer_loading"});
    if (present(t, "defer_loading") && t["defer_loading"] != false)
      unsupported(path(w, "defer_loading"), "'" + path(w, "defer_loading") + "' is not supported (every tool is shown to the model)");
    Json fn = Json::object();
    for (const char* k : {"name", "description", "parameters", "strict"})
      if (present(t, k)) fn[k] = t[k];
    out.push_back({{"type", "function"}, {"function", fn}});
    Json f = {{"type", "function"}, {"name", t.value("name", Json())}, {"description", t.value("description", Json())},
              {"parameters", t.value("parameters", Json())}, {"strict", t.value("strict", Json())}};
    flat.push_back(std::move(f));
  }
  return out;
}

Json chat_tool_choice(const Json& tc) {
  if (tc.is_string()) return tc;  // none / auto / required: the chat parser checks the value
  if (!tc.is_object()) bad("tool_choice", "'tool_choice' must be a string or an object", "invalid_type");
  const std::string type = req_string(tc, "type", "tool_choice");
  if (type != "function")
    unsupported("tool_choice.type", "'tool_choice' of type '" + type + "' is not supported ('none', 'auto', 'required' or a function)");
  refuse_unknown(tc, "tool_choice", {"type", "name"});
  return {{"type", "function"}, {"function", {{"name", req_string(tc, "name", "tool_choice")}}}};
}

Json chat_response_format(const Json& format) {
  const std::string w = "text.format";
  if (!format.is_object()) bad(w, "'text.format' must be an object", "invalid_type");
  const std::string type = req_string(format, "type", w);
  if (type == "text" || type == "json_object") {
    refuse_unknown(format, w, {"type"});
    return {{"type", type}};
  }
  if (type != "json_schema") bad(path(w, "type"), "'text.format.type' must be 'text', 'json_object' or 'json_schema'");
  refuse_unknown(format, w, {"type", "name", "schema", "description", "strict"});
  Json js = {{"name", req_string(format, "name", w)}};
  if (!present(format, "schema")) bad(path(w, "schema"), "'text.format.schema' is required", "missing_required_parameter");
  js["schema"] = format["schema"];
  for (const char* k : {"description", "strict"})
    if (present(format, k)) js[k] = format[k];
  return {{"type", "json_schema"}, {"json_schema", js}};
}

// text -> response_format and verbosity; returns `text` as the response object repeats it.
Json map_text(const Json& body, Json& chat) {
  Json echo = {{"format", {{"type", "text"}}}, {"verbosity", "medium"}};
  if (!present(body, "text")) return echo;
  const Json& t = body["text"];
  if (!t.is_object()) bad("text", "'text' must be an object", "invalid_type");
  refuse_unknown(t, "text", {"format", "verbosity"});
  if (present(t, "format")) {
    chat["response_format"] = chat_response_format(t["format"]);
    echo["format"] = t["format"];
  }
  if (present(t, "verbosity")) chat["verbosity"] = t["verbosity"];
  return echo;
}

// reasoning -> reasoning_effort; returns `reasoning` as the response object repeats it.
Json map_reasoning(const Json& body, Json& chat) {
  Json echo = {{"effort", nullptr}, {"summary", nullptr}};
  if (!present(body, "reasoning")) return echo;
  const Json& rs = body["reasoning"];
  if (!rs.is_object()) bad("reasoning", "'reasoning' must be an object", "invalid_type");
  refuse_unknown(rs, "reasoning", {"effort", "summary", "generate_summary"});
  for (const char* k : {"summary", "generate_summary"}) {
    const std::string s = opt_string(rs, k, "reasoning");
    if (!s.empty() && s != "auto")
      unsupported(path("reasoning", k), "'reasoning." + std::string(k) + "' '" + s +
                                            "' is not supported: there is no summariser ('auto' gives the reasoning whole)");
    if (!s.empty()) echo["summary"] = s;
  }
  const std::string effort = opt_string(rs, "effort", "reasoning");
  if (!effort.empty()) {
    chat["reasoning_effort"] = effort == "xhigh" ? "high" : effort;  // Gemma 4 thinks or does not
    echo["effort"] = effort;
  }
  return echo;
}

// Fields accepted with one value only (the one that describes what this server does), refused with
// any other.
void only_values(const Json& body) {
  auto only = [&](const char* key, const Json& ok, const std::string& why) {
    if (present(body, key) && body[key] != ok)
      unsupported(key, "'" + std::string(key) + "' " + body[key].dump() + " is not supported: " + why);
  };
  only("store", false, "this server stores no responses (send the whole conversation in 'input')");
  only("background", false, "responses are generated while the request waits");
  only("truncation", "disabled", "the input is never truncated; too long an input is refused");
  only("prompt_cache_retention", "in-memory", "cached prompt prefixes live in memory only");
  if (present(body, "include")) {
    if (!body["include"].is_array()) bad("include", "'include' must be an array", "invalid_type");
    if (!body["include"].empty())
      unsupported("include[0]", "'include' " + body["include"][0].dump() + " is not supported (nothing extra can be included)");
  }
}

// A float setting as the request wrote it (0.95, not 0.949999988).
double round6(float x) { return std::round(double(x) * 1e6) / 1e6; }

struct Refusal {
  const char* key;
  const char* why;
};
constexpr Refusal kRefused[] = {
    {"previous_response_id", "this server stores no responses: send the whole conversation in 'input'"},
    {"conversation", "this server stores no conversations: send the whole conversation in 'input'"},
    {"prompt", "stored prompt templates are not supported"},
    {"context_management", "context management (compaction) is not supported"},
    {"max_tool_calls", "use 'parallel_tool_calls': false for at most one tool call"},
    {"top_logprobs", "log-probabilities are not available on /v1/responses (use /v1/chat/completions)"},
};

}  // namespace

std::string responses_param(const std::string& p) {
  auto starts = [&](const char* s) { return p.rfind(s, 0) == 0; };
  if (p == "max_completion_tokens") return "max_output_tokens";
  if (p == "reasoning_effort") return "reasoning.effort";
  if (p == "verbosity") return "text.verbosity";
  if (starts("messages")) return "input";
  if (p == "response_format.json_schema.schema") return "text.format.schema";
  if (p == "response_format.type") return "text.format.type";
  if (starts("response_format")) return "text.format";
  if (starts("tools[")) {
    std::string q = p;
    size_t at = q.find(".function");
    if (at != std::string::npos) q.erase(at, 9);
    return q;
  }
  return p;
}

ResponsesRequest parse_responses_request(const Json& body, const ParseContext& ctx) {
  if (!body.is_object()) throw ApiError(400, "the request body must be a JSON object", "", "invalid_type");
  for (const Refusal& r : kRefused)
    if (present(body, r.key)) unsupported(r.key, "'" + std::string(r.key) + "' is not supported: " + r.why);
  refuse_unknown(body, "", {"model", "input", "instructions", "tools", "tool_choice", "parallel_tool_calls", "max_output_tokens",
                            "temperature", "top_p", "text", "reasoning", "stream", "stream_options", "metadata", "user",
                            "safety_identifier", "prompt_cache_key", "prompt_cache_retention", "service_tier", "store",
                            "background", "truncation", "include"});
  only_values(body);
  ResponsesRequest r;
  MediaPaths media_paths;
  Json chat = {{"messages", input_messages(body, media_paths)}};
  for (const char* k : {"model", "temperature", "top_p", "stream", "parallel_tool_calls", "metadata", "service_tier", "user",
                        "safety_identifier", "prompt_cache_key"})
    if (present(body, k)) chat[k] = body[k];
  if (present(body, "max_output_tokens")) chat["max_completion_tokens"] = body["max_output_tokens"];
  if (present(body, "stream_options")) {
    const Json& so = body["stream_options"];
    if (!so.is_object()) bad("stream_options", "'stream_options' must be an object", "invalid_type");
    refuse_unknown(so, "stream_options", {"include_obfuscation"});
    chat["stream_options"] = so;
  }
  Json flat_tools = Json::array();
  if (present(body, "tools")) chat["tools"] = chat_tools(body["tools"], flat_tools);
  if (present(body, "tool_choice")) chat["tool_choice"] = chat_tool_choice(body["tool_choice"]);
  const Json text_echo = map_text(body, chat);
  const Json reasoning_echo = map_reasoning(body, chat);
  try {
    r.chat = parse_chat_request(chat, ctx);
  } catch (const ApiError& e) {
    throw renamed(e, responses_param);
  }
  media_paths.apply(r.chat.media);
  r.echo = {{"instructions", body.value("instructions", Json())},
            {"max_output_tokens", body.value("max_output_tokens", Json())},
            {"metadata", present(body, "metadata") ? body["metadata"] : Json::object()},
            {"parallel_tool_calls", r.chat.parallel_tool_calls},
            {"reasoning", reasoning_echo},
            {"service_tier", "default"},
            {"store", false},
            {"background", false},
            {"temperature", round6(r.chat.sampling.temperature)},
            {"top_p", round6(r.chat.sampling.top_p)},
            {"text", text_echo},
            {"tool_choice", present(body, "tool_choice") ? body["tool_choice"] : Json("auto")},
            {"tools", flat_tools},
            {"truncation", "disabled"},
            {"previous_response_id", nullptr},
            {"max_tool_calls", nullptr}};
  if (present(body, "user")) r.echo["user"] = body["user"];
  return r;
}

namespace {

// The answer of one /v1/responses request, streamed as events or whole: the output items as the
// answer's blocks open, grow and close.
class ResponsesReply final : public BlockSink {
 public:
  ResponsesReply(const ResponsesRequest& rr, const Tokenizer& tok, std::string model, HttpResponse& res)
      : rr_(rr), tok_(tok), model_(std::move(model)), res_(res), id_(random_id("resp_")), created_(int64_t(std::time(nullptr))),
        splitter_(rr.chat.parallel_tool_calls) {}

  void stream(SeqChannel& ch) {
    if (!res_.start_stream(200, "text/event-stream")) {
      ch.cancel();
      return;
    }
    streaming_ = true;
    if (!emit("response.created", {{"response", response("in_progress")}}) ||
        !emit("response.in_progress", {{"response", response("in_progress")}})) {
      ch.cancel();
      return;
    }
    PumpResult r = pump(ch, res_, [&](const AnswerStream::Delta& d) { return splitter_.push(d, *this); });
    if (r.finish_reason == "gone" || r.finish_reason == "cancelled") return;
    if (r.finish_reason == "error") {
      Json resp = response("failed");
      resp["error"] = {{"code", "server_error"}, {"message", r.error}};
      emit("response.failed", {{"response", resp}});
      return;
    }
    if (!end(r)) return;
    const bool incomplete = r.finish_reason == "length";
    emit(incomplete ? "response.incomplete" : "response.completed", {{"response", final_}});
  }

  void whole(SeqChannel& ch) {
    PumpResult r = pump(ch, res_, [&](const AnswerStream::Delta& d) { return splitter_.push(d, *this); });
    if (r.finish_reason == "gone" || r.finish_reason == "cancelled") {
      res_.send(499, "application/json", "{}");
      return;
    }
    if (r.finish_reason == "error") throw ApiError(500, "generation failed: " + r.error, "", "generation_failed", "server_error");
    end(r);
    send_json(res_, 200, final_);
  }

  bool open(Kind kind, const ToolCallDelta* call) override {
    Json item;
    text_.clear();
    if (kind == Kind::Reasoning) {
      item = {{"id", random_id("rs_")}, {"type", "reasoning"}, {"summary", Json::array()}, {"content", Json::array()}, {"status", "in_progress"}};
    } else if (kind == Kind::Text) {
      item = {{"id", random_id("msg_")}, {"type", "message"}, {"status", "in_progress"}, {"role", "assistant"}, {"content", Json::array()}};
    } else {
      item = {{"id", random_id("fc_")}, {"type", "function_call"}, {"status", "in_progress"}, {"arguments", ""},
              {"call_id", random_id("call_")}, {"name", call->name}};
    }
    output_.push_back(item);
    if (!emit("response.output_item.added", {{"output_index", index()}, {"item", item}})) return false;
    if (kind == Kind::ToolCall) return true;
    return emit("response.content_part.added", {{"item_id", item["id"]}, {"output_index", index()}, {"content_index", 0}, {"part", part(kind)}});
  }

  bool append(Kind kind, const std::string& text) override {
    text_ += text;
    if (kind == Kind::Reasoning) reasoning_ += text;
    const char* type = kind == Kind::Reasoning ? "response.reasoning_text.delta"
                       : kind == Kind::Text    ? "response.output_text.delta"
                                               : "response.function_call_arguments.delta";
    Json e = {{"item_id", output_.back()["id"]}, {"output_index", index()}};
    if (kind != Kind::ToolCall) e["content_index"] = 0;
    e["delta"] = text;
    if (kind == Kind::Text) e["logprobs"] = Json::array();
    if (rr_.chat.include_obfuscation) e["obfuscation"] = obfuscation_padding();
    return emit(type, std::move(e));
  }

  bool close(Kind kind) override {
    Json& item = output_.back();
    const Json id = item["id"];
    item["status"] = closing_status_;
    if (kind == Kind::ToolCall) {
      item["arguments"] = text_;
      if (!emit("response.function_call_arguments.done",
                {{"item_id", id}, {"output_index", index()}, {"name", item["name"]}, {"arguments", text_}}))
        return false;
    } else {
      Json p = part(kind);
      p["text"] = text_;
      item["content"] = Json::array({p});
      Json done = {{"item_id", id}, {"output_index", index()}, {"content_index", 0}, {"text", text_}};
      if (kind == Kind::Text) done["logprobs"] = Json::array();
      if (!emit(kind == Kind::Text ? "response.output_text.done" : "response.reasoning_text.done", std::move(done)) ||
          !emit("response.content_part.done", {{"item_id", id}, {"output_index", index()}, {"content_index", 0}, {"part", p}}))
        return false;
    }
    return emit("response.output_item.done", {{"output_index", index()}, {"item", item}});
  }

 private:
  static Json part(Kind kind) {
    if (kind == Kind::Reasoning) return {{"type", "reasoning_text"}, {"text", ""}};
    return {{"type", "output_text"}, {"text", ""}, {"annotations", Json::array()}, {"logprobs", Json::array()}};
  }
  size_t index() const { return output_.size() - 1; }

  // One event (streaming only): its type, then the fields, then its sequence number.
  bool emit(const char* type, Json fields) {
    if (!streaming_) return true;
    Json e = {{"type", type}};
    for (auto it = fields.begin(); it != fields.end(); ++it) e[it.key()] = std::move(it.value());
    e["sequence_number"] = seq_++;
    return res_.write(std::string("event: ") + type + "\ndata: " + json_text(e) + "\n\n");
  }

  Json response(const std::string& status) const {
    Json j = {{"id", id_}, {"object", "response"}, {"created_at", created_}, {"status", status}, {"error", nullptr},
              {"incomplete_details", nullptr}, {"model", model_}, {"output", Json::array()}};
    for (auto it = rr_.echo.begin(); it != rr_.echo.end(); ++it) j[it.key()] = it.value();
    for (const Json& item : output_) j["output"].push_back(item);
    j["usage"] = nullptr;
    return j;
  }

  // Closes the open item (incomplete when the token budget ran out) and builds the final response.
  bool end(const PumpResult& r) {
    const bool incomplete = r.finish_reason == "length";
    if (incomplete) closing_status_ = "incomplete";
    if (!splitter_.finish(*this)) return false;
    final_ = response(incomplete ? "incomplete" : "completed");
    if (incomplete) final_["incomplete_details"] = {{"reason", "max_output_tokens"}};
    const int reasoning_tokens = reasoning_.empty() ? 0 : int(tok_.encode(reasoning_, false, false).size());
    final_["usage"] = {{"input_tokens", r.prompt_tokens},
                       {"input_tokens_details", {{"cached_tokens", r.cached_tokens}}},
                       {"output_tokens", r.completion_tokens},
                       {"output_tokens_details", {{"reasoning_tokens", std::min(reasoning_tokens, r.completion_tokens)}}},
                       {"total_tokens", r.prompt_tokens + r.completion_tokens}};
    return true;
  }

  const ResponsesRequest& rr_;
  const Tokenizer& tok_;
  const std::string model_;
  HttpResponse& res_;
  const std::string id_;
  const int64_t created_;
  BlockSplitter splitter_;
  bool streaming_ = false;
  int64_t seq_ = 0;
  std::vector<Json> output_;
  std::string text_;       // the open item's text (or a call's arguments)
  std::string reasoning_;  // all reasoning, for its token count
  std::string closing_status_ = "completed";
  Json final_;
};

}  // namespace

void ApiServer::responses(const HttpRequest& req, HttpResponse& res) {
  Json body = parse_json_checked(req.body);
  ResponsesRequest rr = parse_responses_request(body, parse_context());
  check_model(rr.chat.model);
  SeqRequest sr;
  try {
    sr = chat_request(rr.chat);
  } catch (const ApiError& e) {
    throw renamed(e, responses_param);
  }
  // Reasoning models reason first: with thinking on, the answer starts with the thought.
  if (rr.chat.enable_thinking && !sr.constraint)
    sr.constraint = make_thinking_constraint(chat_->tokenizer(), model_->config().vocab_size, sr.start_in_reasoning, true, -1);
  std::shared_ptr<SeqChannel> ch = submit(std::move(sr), res);
  ResponsesReply reply(rr, chat_->tokenizer(), opt_.model_id, res);
  if (rr.chat.stream) reply.stream(*ch);
  else reply.whole(*ch);
}

}  // namespace g4::server
