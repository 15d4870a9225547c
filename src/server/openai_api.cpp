#include "server/openai_api.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <random>

#include "core/error.h"
#include "server/request_body.h"

namespace g4::server {

std::string ApiError::default_type(int status) {
  switch (status) {
    case 401: return "authentication_error";
    case 404: return "invalid_request_error";
    case 429:
    case 503: return "server_overloaded";
    case 500: return "server_error";
    default: return "invalid_request_error";
  }
}

std::string error_body(const ApiError& e) {
  Json err = {{"message", e.what()}, {"type", e.type}, {"param", nullptr}, {"code", nullptr}};
  if (!e.param.empty()) err["param"] = e.param;
  if (!e.code.empty()) err["code"] = e.code;
  return Json{{"error", err}}.dump(-1, ' ', false, Json::error_handler_t::replace);
}

namespace {

std::mt19937_64& id_rng() {
  static thread_local std::mt19937_64 rng(std::random_device{}());
  return rng;
}

constexpr const char* kAlphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

}  // namespace

std::string random_id(const std::string& prefix) {
  std::string s = prefix;
  for (int i = 0; i < 24; ++i) s.push_back(kAlphabet[id_rng()() % 62]);
  return s;
}

std::string obfuscation_padding(size_t max_len) {
  std::string s(1 + id_rng()() % std::max<size_t>(max_len, 1), ' ');
  for (char& c : s) c = kAlphabet[id_rng()() % 62];
  return s;
}

std::string sse_data(const Json& j) {
  return "data: " + j.dump(-1, ' ', false, Json::error_handler_t::replace) + "\n\n";
}

namespace {

[[noreturn]] void bad(const std::string& param, const std::string& message, const std::string& code = "") {
  throw ApiError(400, message, param, code.empty() ? "invalid_value" : code);
}

[[noreturn]] void unsupported(const std::string& param, const std::string& message) {
  bad(param, message, "unsupported_parameter");
}

const char* type_name(const Json& j) {
  switch (j.type()) {
    case Json::value_t::null: return "null";
    case Json::value_t::boolean: return "a boolean";
    case Json::value_t::string: return "a string";
    case Json::value_t::array: return "an array";
    case Json::value_t::object: return "an object";
    default: return "a number";
  }
}

bool present(const Json& body, const char* key) { return body.contains(key) && !body.at(key).is_null(); }

double number_in(const Json& body, const char* key, double lo, double hi, double def) {
  if (!present(body, key)) return def;
  const Json& v = body.at(key);
  if (!v.is_number()) bad(key, std::string("'") + key + "' must be a number, not " + type_name(v), "invalid_type");
  double x = v.get<double>();
  if (!std::isfinite(x) || x < lo || x > hi)
    bad(key, std::string("'") + key + "' must be between " + Json(lo).dump() + " and " + Json(hi).dump() + ", got " + v.dump());
  return x;
}

int64_t integer_in(const Json& body, const char* key, int64_t lo, int64_t hi, int64_t def) {
  if (!present(body, key)) return def;
  const Json& v = body.at(key);
  bool integral = v.is_number_integer() || (v.is_number_float() && std::floor(v.get<double>()) == v.get<double>() &&
                                            std::fabs(v.get<double>()) < 9e15);
  if (!integral) bad(key, std::string("'") + key + "' must be an integer, not " + (v.is_number() ? v.dump() : type_name(v)), "invalid_type");
  int64_t x = v.is_number_unsigned() ? int64_t(std::min<uint64_t>(v.get<uint64_t>(), uint64_t(INT64_MAX)))
                                     : v.is_number_integer() ? v.get<int64_t>() : int64_t(v.get<double>());
  if (x < lo || x > hi)
    bad(key, std::string("'") + key + "' must be between " + std::to_string(lo) + " and " + std::to_string(hi) + ", got " + v.dump());
  return x;
}

bool boolean(const Json& body, const char* key, bool def) {
  if (!present(body, key)) return def;
  const Json& v = body.at(key);
  if (!v.is_boolean()) bad(key, std::string("'") + key + "' must be a boolean, not " + type_name(v), "invalid_type");
  return v.get<bool>();
}

std::string string_in(const Json& body, const char* key, size_t max_len, const std::string& def = "") {
  if (!present(body, key)) return def;
  const Json& v = body.at(key);
  if (!v.is_string()) bad(key, std::string("'") + key + "' must be a string, not " + type_name(v), "invalid_type");
  std::string s = v.get<std::string>();
  if (s.size() > max_len) bad(key, std::string("'") + key + "' is longer than " + std::to_string(max_len) + " bytes");
  return s;
}

// Fields of both endpoints; chat and completions add their own.
constexpr const char* kCommonKeys[] = {
    "model", "stream", "stream_options", "n", "logprobs", "temperature", "top_p", "top_k", "min_p", "typical_p",
    "presence_penalty", "frequency_penalty", "repeat_penalty", "repetition_penalty", "repeat_last_n",
    "dry_multiplier", "dry_base", "dry_allowed_length", "dry_penalty_last_n", "dry_sequence_breakers",
    "xtc_probability", "xtc_threshold", "mirostat", "mirostat_tau", "mirostat_eta", "seed", "logit_bias",
    "max_tokens", "n_predict", "stop", "user", "cache_prompt"};
constexpr const char* kChatKeys[] = {
    "messages", "max_completion_tokens", "top_logprobs", "tools", "tool_choice", "parallel_tool_calls",
    "response_format", "chat_template_kwargs", "enable_thinking", "reasoning_effort", "metadata", "store",
    "service_tier", "modalities", "verbosity", "prompt_cache_key", "safety_identifier", "audio", "prediction",
    "web_search_options", "functions", "function_call"};
constexpr const char* kCompletionKeys[] = {"prompt", "echo", "suffix", "best_of"};

struct Hint {
  const char* key;
  const char* message;
};
constexpr Hint kHints[] = {
    {"grammar", "GBNF grammars are not supported; constrain the output with response_format (json_object or json_schema)"},
    {"json_schema", "use response_format: {\"type\": \"json_schema\", \"json_schema\": {\"name\": ..., \"schema\": ...}}"},
    {"n_probs", "use logprobs and top_logprobs (chat) or logprobs (completions)"},
    {"samplers", "the sampler order is fixed (llama.cpp's default: penalties, dry, top_k, typ_p, top_p, min_p, xtc, temperature)"},
    {"ignore_eos", "ignore_eos is not supported: generation always ends at an end-of-generation token"},
    {"post_sampling_probs", "only the model's own probabilities are reported (logprobs)"},
};

template <size_t N>
bool listed(const char* const (&keys)[N], const std::string& k) {
  for (const char* x : keys)
    if (k == x) return true;
  return false;
}

// Refuses every non-null field that the endpoint does not know.
template <size_t N>
void refuse_unknown(const Json& body, const char* const (&endpoint_keys)[N]) {
  for (auto it = body.begin(); it != body.end(); ++it) {
    const std::string& k = it.key();
    if (it.value().is_null() || listed(kCommonKeys, k) || listed(endpoint_keys, k)) continue;
    for (const Hint& h : kHints)
      if (k == h.key) unsupported(k, "'" + k + "' is not supported: " + h.message);
    unsupported(k, "Unrecognized request argument supplied: " + k);
  }
}

// A window parameter in llama.cpp's convention (-1: everything, 0: off, N: the last N) as the sampler's
// window (0: everything); `off` is set when it is 0.
int window_param(const Json& body, const char* key, int def_window, bool& off) {
  int64_t v = integer_in(body, key, -1, INT32_MAX, -2);
  off = v == 0;
  if (v == -2) return def_window;
  return v < 0 ? 0 : int(v);
}

SamplingParams parse_sampling(const Json& body, const ParseContext& ctx) {
  SamplingParams p = ctx.defaults;
  p.greedy = false;
  if (ctx.defaults.greedy) p.temperature = 0;
  p.temperature = float(number_in(body, "temperature", 0.0, 2.0, p.temperature));
  p.top_p = float(number_in(body, "top_p", 0.0, 1.0, p.top_p));
  if (p.top_p <= 0) {  // top_p 0: only the most likely token
    p.top_p = 1.0f;
    p.temperature = 0;
  }
  int64_t top_k = integer_in(body, "top_k", -1, std::max<int64_t>(ctx.vocab_size, 1), p.top_k);
  p.top_k = int(top_k < 0 ? 0 : top_k);
  p.min_p = float(number_in(body, "min_p", 0.0, 1.0, p.min_p));
  p.typical_p = float(number_in(body, "typical_p", 0.0, 1.0, p.typical_p));
  p.presence_penalty = float(number_in(body, "presence_penalty", -2.0, 2.0, p.presence_penalty));
  p.frequency_penalty = float(number_in(body, "frequency_penalty", -2.0, 2.0, p.frequency_penalty));
  if (present(body, "repeat_penalty") && present(body, "repetition_penalty"))
    bad("repetition_penalty", "give 'repeat_penalty' or 'repetition_penalty' (the same parameter), not both");
  for (const char* key : {"repeat_penalty", "repetition_penalty"}) {
    if (!present(body, key)) continue;
    p.repetition_penalty = float(number_in(body, key, 0.0, 10.0, 1.0));
    if (p.repetition_penalty <= 0) bad(key, std::string("'") + key + "' must be greater than 0");
  }
  bool penalties_off = false;
  p.penalty_window = window_param(body, "repeat_last_n", p.penalty_window, penalties_off);
  if (penalties_off) {  // llama.cpp: repeat_last_n 0 disables the penalties
    p.repetition_penalty = 1.0f;
    p.presence_penalty = p.frequency_penalty = 0.0f;
  }

  p.dry_multiplier = float(number_in(body, "dry_multiplier", 0.0, 100.0, p.dry_multiplier));
  p.dry_base = float(number_in(body, "dry_base", 1.0, 100.0, p.dry_base));
  p.dry_allowed_length = int(integer_in(body, "dry_allowed_length", 0, 10000, p.dry_allowed_length));
  bool dry_off = false;
  p.dry_window = window_param(body, "dry_penalty_last_n", p.dry_window, dry_off);
  if (dry_off) p.dry_multiplier = 0.0f;
  if (present(body, "dry_sequence_breakers")) {
    const Json& b = body["dry_sequence_breakers"];
    if (!b.is_array()) bad("dry_sequence_breakers", "'dry_sequence_breakers' must be an array of strings", "invalid_type");
    if (b.size() > 16) bad("dry_sequence_breakers", "'dry_sequence_breakers' may hold at most 16 strings");
    p.dry_sequence_breakers.clear();
    for (const Json& s : b) {
      if (!s.is_string() || s.get<std::string>().empty() || s.get<std::string>().size() > 64)
        bad("dry_sequence_breakers", "'dry_sequence_breakers' must hold non-empty strings of at most 64 bytes");
      p.dry_sequence_breakers.push_back(s.get<std::string>());
    }
  }
  p.xtc_probability = float(number_in(body, "xtc_probability", 0.0, 1.0, p.xtc_probability));
  p.xtc_threshold = float(number_in(body, "xtc_threshold", 0.0, 1.0, p.xtc_threshold));
  p.mirostat = int(integer_in(body, "mirostat", 0, 2, p.mirostat));
  p.mirostat_tau = float(number_in(body, "mirostat_tau", 0.0, 100.0, p.mirostat_tau));
  p.mirostat_eta = float(number_in(body, "mirostat_eta", 0.0, 10.0, p.mirostat_eta));

  int64_t seed = integer_in(body, "seed", INT64_MIN, INT64_MAX, -1);
  if (present(body, "seed") && seed != -1) p.seed = uint64_t(seed);
  else if (present(body, "seed") || !ctx.fixed_seed) p.seed = Sampler::random_seed();  // -1: random (llama.cpp)

  if (present(body, "logit_bias")) {
    const Json& lb = body["logit_bias"];
    if (!lb.is_object()) bad("logit_bias", "'logit_bias' must be an object mapping token ids to biases", "invalid_type");
    for (auto it = lb.begin(); it != lb.end(); ++it) {
      const std::string& k = it.key();
      if (k.empty() || k.size() > 9 || k.find_first_not_of("0123456789") != std::string::npos)
        bad("logit_bias", "'logit_bias' keys must be token ids, got '" + k + "'");
      int64_t id = std::stoll(k);
      if (id >= ctx.vocab_size) bad("logit_bias", "token id " + k + " in 'logit_bias' is out of range");
      if (!it.value().is_number()) bad("logit_bias", "'logit_bias' values must be numbers", "invalid_type");
      double b = it.value().get<double>();
      if (!std::isfinite(b) || b < -100 || b > 100) bad("logit_bias", "'logit_bias' values must be between -100 and 100");
      p.logit_bias[int32_t(id)] = b <= -100 ? -std::numeric_limits<float>::infinity() : float(b);
    }
  }
  try {
    validate_sampling_params(p);
  } catch (const Error& e) {
    bad("", e.what());
  }
  return p;
}

void parse_common(const Json& body, const ParseContext& ctx, GenerationOptions& o, int64_t default_max_tokens) {
  if (!present(body, "model")) bad("model", "'model' is required", "missing_required_parameter");
  if (!body["model"].is_string()) bad("model", "'model' must be a string", "invalid_type");
  o.model = body["model"].get<std::string>();
  o.stream = boolean(body, "stream", false);
  if (present(body, "stream_options")) {
    const Json& so = body["stream_options"];
    if (!so.is_object()) bad("stream_options", "'stream_options' must be an object", "invalid_type");
    if (!o.stream) bad("stream_options", "'stream_options' is only allowed when 'stream' is true");
    for (auto it = so.begin(); it != so.end(); ++it)
      if (!it.value().is_null() && it.key() != "include_usage" && it.key() != "include_obfuscation")
        unsupported("stream_options." + it.key(), "Unrecognized stream option: " + it.key());
    o.include_usage = boolean(so, "include_usage", false);
    o.include_obfuscation = boolean(so, "include_obfuscation", false);
  }
  const int max_n = std::max(1, ctx.max_n);
  o.n = int(integer_in(body, "n", 1, INT32_MAX, 1));
  if (o.n > max_n) bad("n", "'n' must be at most " + std::to_string(max_n) + " on this server, got " + std::to_string(o.n));
  o.sampling = parse_sampling(body, ctx);

  o.max_tokens = default_max_tokens;
  int64_t np = integer_in(body, "n_predict", -1, INT32_MAX, -2);
  int64_t mt = integer_in(body, "max_tokens", 0, INT32_MAX, -2);
  int64_t mct = integer_in(body, "max_completion_tokens", 0, INT32_MAX, -2);
  if (mct != -2) o.max_tokens = mct;
  else if (mt != -2) o.max_tokens = mt;
  else if (np != -2) o.max_tokens = np;

  if (present(body, "stop")) {
    const Json& s = body["stop"];
    if (s.is_string()) {
      o.stop.push_back(s.get<std::string>());
    } else if (s.is_array()) {
      if (s.size() > 16) bad("stop", "'stop' may hold at most 16 strings");
      for (const Json& x : s) {
        if (!x.is_string()) bad("stop", "'stop' must be a string or an array of strings", "invalid_type");
        o.stop.push_back(x.get<std::string>());
      }
    } else {
      bad("stop", "'stop' must be a string or an array of strings", "invalid_type");
    }
  }
  string_in(body, "user", 512);
  if (!boolean(body, "cache_prompt", true))
    unsupported("cache_prompt", "'cache_prompt': false is not supported (the server always reuses cached prompt prefixes)");
}

// Refuses every non-null member of `obj` (at `where`) outside `known`.
void refuse_unknown_members(const Json& obj, const std::string& where, std::initializer_list<const char*> known) {
  for (auto it = obj.begin(); it != obj.end(); ++it) {
    if (it.value().is_null()) continue;
    bool ok = false;
    for (const char* k : known) ok = ok || it.key() == k;
    if (!ok) unsupported(where + "." + it.key(), "Unrecognized argument '" + where + "." + it.key() + "'");
  }
}

// Message content as plain text: a string, or an array of text parts.
std::string content_text(const Json& content, const std::string& where, bool allow_null) {
  if (content.is_null()) {
    if (!allow_null) bad(where, "'" + where + "' is required");
    return "";
  }
  if (content.is_string()) return content.get<std::string>();
  if (content.is_array()) {
    std::string out;
    for (size_t i = 0; i < content.size(); ++i) {
      const Json& part = content[i];
      std::string pw = where + "[" + std::to_string(i) + "]";
      if (!part.is_object() || !part.contains("type") || !part["type"].is_string())
        bad(pw, "'" + pw + "' must be an object with a 'type'", "invalid_type");
      std::string t = part["type"].get<std::string>();
      if (t == "text" || t == "input_text") {
        if (!part.contains("text") || !part["text"].is_string()) bad(pw + ".text", "'" + pw + ".text' must be a string", "invalid_type");
        refuse_unknown_members(part, pw, {"type", "text"});
        out += part["text"].get<std::string>();
      } else if (t == "image_url" || t == "input_image" || t == "input_audio" || t == "file" || t == "image" || t == "audio") {
        bad(pw, "content parts of type '" + t + "' are not supported by this server (text only)", "unsupported_content");
      } else {
        bad(pw + ".type", "unknown content part type '" + t + "'");
      }
    }
    return out;
  }
  bad(where, "'" + where + "' must be a string or an array of content parts", "invalid_type");
}

bool valid_function_name(const std::string& n) {
  if (n.empty() || n.size() > 64) return false;
  for (char c : n)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.')) return false;
  return true;
}

Json parse_tool_calls(const Json& tcs, const std::string& w) {
  if (!tcs.is_array()) bad(w, "'" + w + "' must be an array", "invalid_type");
  Json calls = Json::array();
  for (size_t k = 0; k < tcs.size(); ++k) {
    const Json& tc = tcs[k];
    std::string tw = w + "[" + std::to_string(k) + "]";
    if (!tc.is_object() || !tc.contains("function") || !tc["function"].is_object())
      bad(tw + ".function", "'" + tw + ".function' is required", "invalid_type");
    refuse_unknown_members(tc, tw, {"id", "type", "function", "index"});
    if (present(tc, "type") && tc["type"] != "function") bad(tw + ".type", "only tool calls of type 'function' are supported");
    const Json& f = tc["function"];
    refuse_unknown_members(f, tw + ".function", {"name", "arguments"});
    if (!f.contains("name") || !f["name"].is_string()) bad(tw + ".function.name", "'" + tw + ".function.name' must be a string", "invalid_type");
    Json args = Json::object();
    if (f.contains("arguments") && !f["arguments"].is_null()) {
      if (f["arguments"].is_string()) {
        std::string a = f["arguments"].get<std::string>();
        if (!a.empty()) args = parse_json_checked(a, tw + ".function.arguments");
      } else {
        args = f["arguments"];
      }
    }
    if (!args.is_object()) bad(tw + ".function.arguments", "'" + tw + ".function.arguments' must be a JSON object");
    Json call = {{"type", "function"}, {"function", {{"name", f["name"]}, {"arguments", args}}}};
    if (tc.contains("id") && tc["id"].is_string()) call["id"] = tc["id"];
    calls.push_back(call);
  }
  return calls;
}

// A user message's content: plain text, or (with image/audio parts) the template's parts in order.
Json user_content(const Json& content, const std::string& where, std::vector<MediaRef>* media) {
  if (!media || !content.is_array()) return content_text(content, where, false);
  bool any = false;
  for (const Json& part : content) any = any || (part.is_object() && (part.value("type", "") == "image_url" || part.value("type", "") == "input_audio"));
  if (!any) return content_text(content, where, false);
  Json parts = Json::array();
  for (size_t i = 0; i < content.size(); ++i) {
    const Json& part = content[i];
    const std::string pw = where + "[" + std::to_string(i) + "]";
    const std::string t = part.is_object() ? part.value("type", "") : "";
    if (t == "image_url" || t == "input_audio") parts.push_back(parse_media_part(part, pw, *media));
    else parts.push_back({{"type", "text"}, {"text", content_text(Json::array({part}), pw, false)}});
  }
  return parts;
}

Json parse_messages(const Json& body, std::vector<MediaRef>* media) {
  if (!body.contains("messages")) bad("messages", "'messages' is required", "missing_required_parameter");
  const Json& msgs = body["messages"];
  if (!msgs.is_array()) bad("messages", "'messages' must be an array", "invalid_type");
  if (msgs.empty()) bad("messages", "'messages' must contain at least one message");
  Json out = Json::array();
  for (size_t i = 0; i < msgs.size(); ++i) {
    const Json& m = msgs[i];
    std::string w = "messages[" + std::to_string(i) + "]";
    if (!m.is_object()) bad(w, "'" + w + "' must be an object", "invalid_type");
    if (!m.contains("role") || !m["role"].is_string()) bad(w + ".role", "'" + w + ".role' is required and must be a string", "invalid_type");
    std::string role = m["role"].get<std::string>();
    if (present(m, "name") && !m["name"].is_string()) bad(w + ".name", "'" + w + ".name' must be a string", "invalid_type");
    Json n = Json::object();
    const Json content = m.contains("content") ? m["content"] : Json();
    if (role == "system" || role == "developer") {
      refuse_unknown_members(m, w, {"role", "content", "name"});
      n["role"] = "system";
      n["content"] = content_text(content, w + ".content", false);
    } else if (role == "user") {
      refuse_unknown_members(m, w, {"role", "content", "name"});
      n["role"] = "user";
      n["content"] = user_content(content, w + ".content", media);
    } else if (role == "assistant") {
      refuse_unknown_members(m, w, {"role", "content", "name", "tool_calls", "reasoning_content", "reasoning", "refusal"});
      n["role"] = "assistant";
      std::string text = content_text(content, w + ".content", true);
      // A refusal is what the assistant said instead of an answer: it is the turn's text.
      if (present(m, "refusal")) {
        if (!m["refusal"].is_string()) bad(w + ".refusal", "'" + w + ".refusal' must be a string", "invalid_type");
        text += m["refusal"].get<std::string>();
      }
      n["content"] = text;
      for (const char* rk : {"reasoning_content", "reasoning"}) {
        if (!present(m, rk)) continue;
        if (!m[rk].is_string()) bad(w + "." + rk, "'" + w + "." + rk + "' must be a string", "invalid_type");
        if (!m[rk].get<std::string>().empty()) n["reasoning_content"] = m[rk];
      }
      if (present(m, "tool_calls")) n["tool_calls"] = parse_tool_calls(m["tool_calls"], w + ".tool_calls");
    } else if (role == "tool" || role == "function") {
      refuse_unknown_members(m, w, {"role", "content", "name", "tool_call_id"});
      n["role"] = "tool";
      n["content"] = content_text(content, w + ".content", false);
      if (present(m, "tool_call_id")) {
        if (!m["tool_call_id"].is_string()) bad(w + ".tool_call_id", "'" + w + ".tool_call_id' must be a string", "invalid_type");
        n["tool_call_id"] = m["tool_call_id"];
      }
      if (present(m, "name")) n["name"] = m["name"];
    } else {
      bad(w + ".role", "unknown role '" + role + "' (expected system, developer, user, assistant or tool)");
    }
    out.push_back(n);
  }
  // A tool message names its function through the assistant call it answers.
  for (size_t i = 0; i < out.size(); ++i) {
    if (out[i]["role"] != "tool" || out[i].contains("name")) continue;
    std::string id = out[i].value("tool_call_id", "");
    for (size_t j = i; j-- > 0;) {
      if (!out[j].contains("tool_calls")) continue;
      for (const Json& c : out[j]["tool_calls"])
        if (c.value("id", "") == id) out[i]["name"] = c["function"]["name"];
      break;
    }
  }
  return out;
}

Json parse_tools(const Json& body) {
  Json out = Json::array();
  if (!present(body, "tools")) return out;
  const Json& tools = body["tools"];
  if (!tools.is_array()) bad("tools", "'tools' must be an array", "invalid_type");
  if (tools.size() > 128) bad("tools", "'tools' may hold at most 128 tools");
  for (size_t i = 0; i < tools.size(); ++i) {
    const Json& t = tools[i];
    std::string w = "tools[" + std::to_string(i) + "]";
    if (!t.is_object()) bad(w, "'" + w + "' must be an object", "invalid_type");
    if (t.contains("type") && t["type"] != "function") bad(w + ".type", "only tools of type 'function' are supported");
    if (!t.contains("function") || !t["function"].is_object()) bad(w + ".function", "'" + w + ".function' is required", "missing_required_parameter");
    refuse_unknown_members(t, w, {"type", "function"});
    const Json& f = t["function"];
    // strict: the arguments follow the schema whenever the call is forced (tool_choice required or a
    // named function), strict or not; an unforced call's arguments are parsed as the model wrote them.
    refuse_unknown_members(f, w + ".function", {"name", "description", "parameters", "strict"});
    if (present(f, "strict") && !f["strict"].is_boolean()) bad(w + ".function.strict", "'" + w + ".function.strict' must be a boolean", "invalid_type");
    if (!f.contains("name") || !f["name"].is_string() || !valid_function_name(f["name"].get<std::string>()))
      bad(w + ".function.name", "'" + w + ".function.name' must be 1-64 letters, digits, '_', '-' or '.'");
    Json fn = {{"name", f["name"]}, {"description", ""}, {"parameters", {{"type", "object"}, {"properties", Json::object()}}}};
    if (present(f, "description")) {
      if (!f["description"].is_string()) bad(w + ".function.description", "'" + w + ".function.description' must be a string", "invalid_type");
      fn["description"] = f["description"];
    }
    if (present(f, "parameters")) {
      if (!f["parameters"].is_object()) bad(w + ".function.parameters", "'" + w + ".function.parameters' must be a JSON schema object", "invalid_type");
      fn["parameters"] = f["parameters"];
    }
    for (const Json& prev : out)
      if (prev["function"]["name"] == fn["name"]) bad(w + ".function.name", "duplicate tool name '" + fn["name"].get<std::string>() + "'");
    out.push_back(Json{{"type", "function"}, {"function", fn}});
  }
  return out;
}

// Chat fields with no effect on generation, and the ones refused.
void parse_chat_extras(const Json& body, ChatRequest& r) {
  for (const char* k : {"audio", "prediction", "web_search_options"})
    if (present(body, k)) unsupported(k, std::string("'") + k + "' is not supported by this server");
  for (const char* k : {"functions", "function_call"})
    if (present(body, k)) unsupported(k, std::string("'") + k + "' is deprecated and not supported: use 'tools' and 'tool_choice'");
  if (boolean(body, "store", false)) unsupported("store", "'store': true is not supported (this server stores nothing)");
  if (present(body, "metadata")) {
    const Json& md = body["metadata"];
    if (!md.is_object()) bad("metadata", "'metadata' must be an object of strings", "invalid_type");
    if (md.size() > 16) bad("metadata", "'metadata' may hold at most 16 pairs");
    for (auto it = md.begin(); it != md.end(); ++it)
      if (it.key().size() > 64 || !it.value().is_string() || it.value().get<std::string>().size() > 512)
        bad("metadata", "'metadata' keys must be at most 64 bytes and values strings of at most 512 bytes");
  }
  r.service_tier = string_in(body, "service_tier", 64);
  if (!r.service_tier.empty() && r.service_tier != "auto" && r.service_tier != "default")
    unsupported("service_tier", "'service_tier' '" + r.service_tier + "' is not available (use 'auto' or 'default')");
  if (present(body, "modalities")) {
    const Json& m = body["modalities"];
    if (!m.is_array()) bad("modalities", "'modalities' must be an array", "invalid_type");
    for (const Json& x : m)
      if (x != "text") unsupported("modalities", "only the 'text' modality is supported");
  }
  std::string verbosity = string_in(body, "verbosity", 16);
  if (!verbosity.empty() && verbosity != "medium")
    unsupported("verbosity", "'verbosity' '" + verbosity + "' is not supported (only 'medium', the model's own length)");
  string_in(body, "prompt_cache_key", 1024);
  string_in(body, "safety_identifier", 1024);
}

// reasoning_effort onto thinking: Gemma 4 thinks or does not, with no graded effort.
void parse_reasoning(const Json& body, ChatRequest& r, bool thinking_given) {
  r.reasoning_effort = string_in(body, "reasoning_effort", 16);
  if (r.reasoning_effort.empty()) return;
  bool think;
  if (r.reasoning_effort == "none" || r.reasoning_effort == "minimal") think = false;
  else if (r.reasoning_effort == "low" || r.reasoning_effort == "medium" || r.reasoning_effort == "high") think = true;
  else bad("reasoning_effort", "'reasoning_effort' must be 'none', 'minimal', 'low', 'medium' or 'high'");
  if (thinking_given && think != r.enable_thinking)
    bad("reasoning_effort", "'reasoning_effort' '" + r.reasoning_effort + "' contradicts enable_thinking: " +
                                (r.enable_thinking ? "true" : "false"));
  r.enable_thinking = think;
}


}  // namespace

ChatRequest parse_chat_request(const Json& body, const ParseContext& ctx) {
  if (!body.is_object()) throw ApiError(400, "the request body must be a JSON object", "", "invalid_type");
  refuse_unknown(body, kChatKeys);
  ChatRequest r;
  if (!present(body, "model")) bad("model", "'model' is required", "missing_required_parameter");
  r.messages = parse_messages(body, &r.media);
  parse_common(body, ctx, r, ctx.default_max_tokens);
  if (present(body, "logprobs") && !body["logprobs"].is_boolean())
    bad("logprobs", "'logprobs' must be a boolean (use 'top_logprobs' for alternatives)", "invalid_type");
  const bool logprobs = boolean(body, "logprobs", false);
  if (present(body, "top_logprobs") && !logprobs) bad("top_logprobs", "'top_logprobs' requires 'logprobs': true");
  if (logprobs) r.logprobs = int(integer_in(body, "top_logprobs", 0, kMaxTopLogprobs, 0));
  r.tools = parse_tools(body);

  if (present(body, "tool_choice")) {
    const Json& tc = body["tool_choice"];
    if (tc.is_string()) {
      std::string s = tc.get<std::string>();
      if (s == "auto") r.tool_choice = ToolChoice::Auto;
      else if (s == "none") r.tool_choice = ToolChoice::None;
      else if (s == "required") r.tool_choice = ToolChoice::Required;
      else bad("tool_choice", "'tool_choice' must be 'none', 'auto', 'required' or a function");
    } else if (tc.is_object()) {
      if (!tc.contains("function") || !tc["function"].is_object() || !tc["function"].contains("name") || !tc["function"]["name"].is_string())
        bad("tool_choice", "'tool_choice' must name a function: {\"type\":\"function\",\"function\":{\"name\":...}}");
      r.tool_choice = ToolChoice::Named;
      r.tool_name = tc["function"]["name"].get<std::string>();
      bool found = false;
      for (const Json& t : r.tools) found = found || t["function"]["name"] == r.tool_name;
      if (!found) bad("tool_choice", "'tool_choice' names '" + r.tool_name + "', which is not in 'tools'");
    } else {
      bad("tool_choice", "'tool_choice' must be a string or an object", "invalid_type");
    }
    if ((r.tool_choice == ToolChoice::Required) && r.tools.empty())
      bad("tool_choice", "'tool_choice' is 'required' but no 'tools' were given");
  }
  r.parallel_tool_calls = boolean(body, "parallel_tool_calls", true);

  if (present(body, "response_format")) {
    const Json& rf = body["response_format"];
    if (!rf.is_object() || !rf.contains("type") || !rf["type"].is_string())
      bad("response_format", "'response_format' must be an object with a 'type'", "invalid_type");
    std::string t = rf["type"].get<std::string>();
    try {
      if (t == "text") {
        r.format = ResponseFormat::Text;
      } else if (t == "json_object") {
        r.format = ResponseFormat::JsonObject;
        r.json = JsonConstraint::any_object();
      } else if (t == "json_schema") {
        r.format = ResponseFormat::JsonSchema;
        if (!rf.contains("json_schema") || !rf["json_schema"].is_object())
          bad("response_format.json_schema", "'response_format.json_schema' is required", "missing_required_parameter");
        const Json& js = rf["json_schema"];
        if (!js.contains("schema") || !(js["schema"].is_object() || js["schema"].is_boolean()))
          bad("response_format.json_schema.schema", "'response_format.json_schema.schema' must be a JSON schema object");
        r.schema = js["schema"];
        r.json = JsonConstraint::from_schema(r.schema);
      } else {
        bad("response_format.type", "'response_format.type' must be 'text', 'json_object' or 'json_schema'");
      }
    } catch (const Error& e) {
      bad("response_format.json_schema.schema", std::string("cannot constrain the answer to this schema: ") + e.what());
    }
  }

  bool thinking_given = false;
  if (present(body, "chat_template_kwargs")) {
    const Json& k = body["chat_template_kwargs"];
    if (!k.is_object()) bad("chat_template_kwargs", "'chat_template_kwargs' must be an object", "invalid_type");
    for (auto it = k.begin(); it != k.end(); ++it) {
      const std::string& key = it.key();
      if (key == "enable_thinking") {
        if (!it.value().is_boolean()) bad("chat_template_kwargs.enable_thinking", "'enable_thinking' must be a boolean", "invalid_type");
        r.enable_thinking = it.value().get<bool>();
        thinking_given = true;
      } else if (key != "messages" && key != "tools" && key != "add_generation_prompt" && key != "bos_token" &&
                 key != "eos_token") {
        r.template_kwargs[key] = it.value();
      }
    }
  }
  if (present(body, "enable_thinking")) {
    r.enable_thinking = boolean(body, "enable_thinking", r.enable_thinking);
    thinking_given = true;
  }
  parse_reasoning(body, r, thinking_given);
  parse_chat_extras(body, r);
  return r;
}

CompletionRequest parse_completion_request(const Json& body, const ParseContext& ctx) {
  if (!body.is_object()) throw ApiError(400, "the request body must be a JSON object", "", "invalid_type");
  refuse_unknown(body, kCompletionKeys);
  CompletionRequest r;
  if (!present(body, "model")) bad("model", "'model' is required", "missing_required_parameter");
  if (!present(body, "prompt")) bad("prompt", "'prompt' is required", "missing_required_parameter");
  const Json& p = body["prompt"];
  auto ids_from = [&](const Json& a) {
    std::vector<int32_t> ids;
    for (const Json& x : a) {
      if (!x.is_number_integer() || x.get<int64_t>() < 0 || x.get<int64_t>() >= ctx.vocab_size)
        bad("prompt", "'prompt' token ids must be integers in [0, " + std::to_string(ctx.vocab_size) + ")");
      ids.push_back(int32_t(x.get<int64_t>()));
    }
    return ids;
  };
  if (p.is_string()) {
    r.prompt = p.get<std::string>();
  } else if (p.is_array() && p.size() == 1 && p[0].is_string()) {
    r.prompt = p[0].get<std::string>();
  } else if (p.is_array() && p.size() == 1 && p[0].is_array()) {
    r.prompt_ids = ids_from(p[0]);
    r.has_ids = true;
  } else if (p.is_array() && !p.empty() && p[0].is_number()) {
    r.prompt_ids = ids_from(p);
    r.has_ids = true;
  } else if (p.is_array() && p.size() > 1) {
    bad("prompt", "only one prompt per request is supported");
  } else {
    bad("prompt", "'prompt' must be a string, an array of one string, or an array of token ids", "invalid_type");
  }
  if (present(body, "suffix")) unsupported("suffix", "'suffix' is not supported (Gemma has no fill-in-the-middle format)");
  parse_common(body, ctx, r, ctx.default_max_tokens >= 0 ? ctx.default_max_tokens : 16);
  if (present(body, "logprobs") && !body["logprobs"].is_number())
    bad("logprobs", "'logprobs' must be an integer (the alternatives listed per token)", "invalid_type");
  r.logprobs = int(integer_in(body, "logprobs", 0, kMaxTopLogprobs, -1));
  if (integer_in(body, "best_of", 1, INT32_MAX, r.n) != r.n)
    unsupported("best_of", "'best_of' must equal 'n': this server returns every completion it generates");
  r.echo = boolean(body, "echo", false);
  return r;
}

}  // namespace g4::server
