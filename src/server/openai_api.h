#pragma once
// The OpenAI wire format: request bodies in, validated request structs out (ApiError with the HTTP
// status, type, param and code of an OpenAI error body otherwise); response objects and stream
// chunks out.
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/json.h"
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
};

struct GenerationOptions {
  std::string model;           // empty when the request names none
  bool stream = false;
  bool include_usage = false;  // stream_options.include_usage
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
  ResponseFormat format = ResponseFormat::Text;
  Json schema;                    // ResponseFormat::JsonSchema
  std::unique_ptr<JsonConstraint> json;  // compiled response_format (JsonObject / JsonSchema)
  bool enable_thinking = false;
  Json template_kwargs = Json::object();  // other chat_template_kwargs
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
// A server-sent event: "data: <json>\n\n".
std::string sse_data(const Json& j);

}  // namespace g4::server
