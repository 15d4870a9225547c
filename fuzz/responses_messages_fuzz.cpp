// libFuzzer target: a request body -> the internal chat request, through the Responses API mapping
// (/v1/responses) and the Messages API mapping (/v1/messages and its count_tokens). Covers the bounded
// pre-scan, the JSON parse, the input-item / content-block translation, the chat parser behind it and
// the renaming of its errors. A refused request is an ApiError; any other exception, a crash or a hang
// is a bug.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "server/anthropic_api.h"
#include "server/api_common.h"
#include "server/request_body.h"
#include "server/responses_api.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace g4::server;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  ParseContext ctx;
  ctx.vocab_size = 262144;
  ctx.fixed_seed = true;  // no std::random_device per input
  g4::Json body;
  try {
    body = parse_json_checked(text);
  } catch (const ApiError&) {
    return 0;
  }
  try {
    ResponsesRequest r = parse_responses_request(body, ctx);
    g4::validate_sampling_params(r.chat.sampling);
  } catch (const ApiError& e) {
    anthropic_error_body(e);
  }
  for (bool count : {false, true}) {
    try {
      MessagesRequest r = parse_messages_request(body, ctx, count);
      g4::validate_sampling_params(r.chat.sampling);
    } catch (const ApiError& e) {
      anthropic_error_body(e);
    }
  }
  return 0;
}
