#pragma once
// The OpenAI wire format: request bodies in, validated request structs out (ApiError with the HTTP
// status, type, param and code of an OpenAI error body otherwise); response objects and stream
// chunks out.
//
// Every request field is implemented, accepted with the meaning written here, or refused with a 400
// whose `param` names it; a field this server does not know is refused like OpenAI refuses one
// ("Unrecognized request argument supplied"). A field whose value is null counts as absent.
//
// POST /v1/chat/completions and /v1/completions:
//   model              required; any name is accepted (one model is served); responses name the real one
//   stream, stream_options {include_usage, include_obfuscation}: stream_options needs stream: true;
//                      include_obfuscation adds a random "obfuscation" string to each chunk (off unless asked)
//   n                  1..min(16, KV slots + queue): n choices (index 0..n-1) from one prefill of the prompt;
//                      choice i samples with seed + i
//   max_tokens, max_completion_tokens (chat), n_predict (llama.cpp; -1 = until the context is full):
//                      the first of max_completion_tokens, max_tokens, n_predict that is given
//   stop               a string or up to 16 strings
//   temperature 0..2, top_p 0..1 (0: greedy), seed (-1: a random one, as llama.cpp), logit_bias
//   presence_penalty, frequency_penalty (-2..2), repeat_penalty / repetition_penalty (> 0),
//   repeat_last_n (-1: every generated token, 0: no repetition/presence/frequency penalty, N: the last N)
//   llama.cpp's samplers, as runtime/sampler.h implements them: top_k (0 or -1: off), min_p, typical_p,
//   dry_multiplier, dry_base (>= 1), dry_allowed_length, dry_penalty_last_n (-1: all, 0: DRY off),
//   dry_sequence_breakers (up to 16 non-empty strings), xtc_probability, xtc_threshold, mirostat (0, 1, 2;
//   replaces top_k/top_p/min_p/typical_p/XTC, as in llama.cpp), mirostat_tau, mirostat_eta.
//   Penalties and DRY look at the generated tokens (not the prompt).
//   cache_prompt: true   accepted (prompt prefixes are always reused); false is refused
//   user, safety_identifier, prompt_cache_key: strings, accepted and not used (prefix reuse is automatic)
//   logprobs           log-probabilities of the model's own distribution at each generated token: the
//                      log-softmax of the final (soft-capped) logits, before logit_bias, penalties,
//                      constraints, temperature or truncation. Chat: logprobs: true plus top_logprobs
//                      0..20; completions: logprobs 0..20 (OpenAI allows 5). End-of-generation tokens
//                      are not listed; every other generated token is, including control tokens and the
//                      tokens of a stop string.
// Chat only:
//   messages (roles system, developer, user, assistant, tool; text content parts; a message's `name` is
//   accepted and not shown to the model, as Gemma's template has no participant names), tools,
//   tool_choice, parallel_tool_calls (false: at most one tool call is returned), response_format,
//   chat_template_kwargs, enable_thinking,
//   reasoning_effort   none/minimal -> thinking off; low/medium/high -> thinking on (Gemma 4 has no
//                      graded effort); contradicting an explicit enable_thinking is a 400
//   store: false, metadata (up to 16 string pairs; nothing is stored), service_tier auto/default,
//   modalities ["text"], verbosity "medium": accepted; other values of these are refused
//   refused: audio, prediction, web_search_options, functions, function_call (use tools, tool_choice)
// Completions only: prompt (a string, one string in an array, or token ids), echo, best_of (= n);
//   refused: suffix.
// Refused with a hint: grammar, json_schema (use response_format), n_probs (use logprobs), samplers,
//   ignore_eos and llama.cpp's other /completion options.
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/json.h"
#include "server/media_parts.h"
#include "runtime/json_constraint.h"
#include "runtime/sampler.h"

namespace g4::server {

class ApiError : public std::runtime_error {
 public:
  ApiError(int status, const std::string& message, std::string param = "", std::string code = "",
           std::string type = "")
      : std::runtime_error(message), status(status), param(std::move(param)), code(std::move(code)),
        type(type.empty() ? default_type(status) : std::move(type)) {}
  int status;
  std::string param, code, type;
  static std::string default_type(int status);
};

// {"error":{"message","type","param","code"}}
std::string error_body(const ApiError& e);

struct ParseContext {
  SamplingParams defaults;     // server defaults (temperature, top_k, top_p, ...)
  bool fixed_seed = false;     // defaults.seed was given on the command line
  int64_t default_max_tokens = -1;
  int32_t vocab_size = 0;
  int max_n = 16;              // most choices per request
};

inline constexpr int kMaxTopLogprobs = 20;

struct GenerationOptions {
  std::string model;           // empty when the request names none
  bool stream = false;
  bool include_usage = false;  // stream_options.include_usage
  bool include_obfuscation = false;  // stream_options.include_obfuscation
  int n = 1;                   // choices
  int logprobs = -1;           // < 0: none; else alternatives listed per token (0..kMaxTopLogprobs)
  SamplingParams sampling;
  int64_t max_tokens = -1;     // < 0: until the context is full
  std::vector<std::string> stop;
};

enum class ToolChoice { Auto, None, Required, Named };
enum class ResponseFormat { Text, JsonObject, JsonSchema };

struct ChatRequest : GenerationOptions {
  Json messages = Json::array();  // normalised for the chat template
  Json tools = Json::array();     // [{type:"function", function:{name, description, parameters}}]
  ToolChoice tool_choice = ToolChoice::Auto;
  std::string tool_name;          // ToolChoice::Named
  bool parallel_tool_calls = true;
  ResponseFormat format = ResponseFormat::Text;
  Json schema;                    // ResponseFormat::JsonSchema
  std::unique_ptr<JsonConstraint> json;  // compiled response_format (JsonObject / JsonSchema)
  bool enable_thinking = false;
  std::string reasoning_effort;   // as given ("" when absent)
  std::string service_tier;       // "" when absent, else "auto" or "default"
  Json template_kwargs = Json::object();  // other chat_template_kwargs
  std::vector<MediaRef> media;    // image_url / input_audio parts of user messages, in order
};

struct CompletionRequest : GenerationOptions {
  std::string prompt;               // text prompt
  std::vector<int32_t> prompt_ids;  // or token ids
  bool has_ids = false;
  bool echo = false;
};

// Both throw ApiError (400) naming the offending field.
ChatRequest parse_chat_request(const Json& body, const ParseContext& ctx);
CompletionRequest parse_completion_request(const Json& body, const ParseContext& ctx);

// "chatcmpl-<24 random chars>" etc.
std::string random_id(const std::string& prefix);
// Random characters of random length (1..max_len), for stream_options.include_obfuscation.
std::string obfuscation_padding(size_t max_len = 32);
// A server-sent event: "data: <json>\n\n".
std::string sse_data(const Json& j);

}  // namespace g4::server
