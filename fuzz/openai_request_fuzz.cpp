// libFuzzer target: an API request body -> the internal request. Covers the bounded pre-scan, the JSON
// parse and both endpoints' field validation (messages, tools, tool_choice, response_format schemas,
// sampling parameters, logprobs, n). A refused request is an ApiError; any other exception, a crash or
// a hang is a bug.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "server/openai_api.h"
#include "server/request_body.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace g4::server;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  ParseContext ctx;
  ctx.vocab_size = 262144;
  ctx.fixed_seed = true;  // no std::random_device per input
  ctx.max_n = 16;
  g4::Json body;
  try {
    body = parse_json_checked(text);
  } catch (const ApiError&) {
    return 0;
  }
  try {
    ChatRequest r = parse_chat_request(body, ctx);
    g4::validate_sampling_params(r.sampling);
  } catch (const ApiError&) {
  }
  try {
    CompletionRequest r = parse_completion_request(body, ctx);
    g4::validate_sampling_params(r.sampling);
  } catch (const ApiError&) {
  }
  return 0;
}
