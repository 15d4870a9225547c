#pragma once
// POST /v1/responses: OpenAI's Responses API, mapped onto the chat-completions pipeline (the same
// template rendering, scheduling, output parsing, tool calls, constraints and sampling; the request is
// translated into a chat request and validated by the chat parser, whose errors are renamed to the
// Responses fields).
//
// Request fields:
//   model              required; any name is accepted (one model is served); the response names the real one
//   input              a string (one user message) or a list of items:
//                        message (type "message" or none; roles user, system, developer with input_text
//                          parts or a string; a user message may also hold input_image {image_url: a
//                          data: URL, detail "auto"; file_id refused} and input_audio {input_audio: {data,
//                          format}} parts, taken as chat completions' image_url / input_audio; role assistant with output_text / refusal / input_text parts
//                          or a string; id, status and an output_text's annotations and logprobs are
//                          accepted as the metadata of an earlier answer)
//                        function_call {call_id, name, arguments, id, status}: joins the assistant turn
//                          before it (or starts one)
//                        function_call_output {call_id, output: a string or input_text parts, id, status}
//                        reasoning {id, summary, content, status} passed back: its reasoning_text (or
//                          else summary_text) becomes the reasoning of the assistant turn after it;
//                          encrypted_content is refused (this server never produces it)
//                      item_reference and every other item type are refused (nothing is stored; input_file
//                      is not supported).
//   instructions       a system message before the input
//   tools              function tools in the flat shape {type: "function", name, description, parameters,
//                      strict}; built-in tools (web_search, file_search, mcp, custom, ...) are refused
//   tool_choice        "none", "auto", "required" or {type: "function", name}; allowed_tools and built-in
//                      tool choices are refused
//   parallel_tool_calls, max_output_tokens, temperature, top_p, metadata, user, safety_identifier,
//   prompt_cache_key, service_tier (auto / default): as in chat completions
//   text               {format: {type: text | json_object | json_schema (name, schema, description,
//                      strict)}, verbosity: medium}: json_object and json_schema constrain the answer
//   reasoning          {effort}: none / minimal -> thinking off; low / medium / high / xhigh -> on (Gemma 4
//                      has no graded effort), and the answer starts with a reasoning item (the thought's
//                      opening tokens are forced, as a Gemma 4 model told to think writes them itself;
//                      not with text.format or a forced tool call, whose constraints start the answer). summary "auto" is accepted and gives an empty summary (no
//                      summariser: the reasoning comes whole as reasoning_text); concise / detailed are refused
//   stream             server-sent events: response.created, response.in_progress, then per output item
//                      response.output_item.added, response.content_part.added, response.output_text.delta
//                      / response.reasoning_text.delta / response.function_call_arguments.delta, the
//                      matching .done events, response.content_part.done, response.output_item.done; and
//                      response.completed (response.incomplete when max_output_tokens ran out,
//                      response.failed when generation failed). Each event has a sequence_number.
//   stream_options     {include_obfuscation}: adds an "obfuscation" string to delta events (off unless asked)
//   store: false, background: false, truncation: "disabled", include: [], prompt_cache_retention:
//   "in-memory": accepted; other values are refused (nothing is stored, nothing runs in the background,
//   input is never truncated)
//   refused: previous_response_id, conversation (no responses are stored: send the whole conversation),
//   prompt, context_management, max_tool_calls, top_logprobs, and any field this server does not know.
//
// Output items: reasoning {id, summary: [], content: [{type: reasoning_text, text}]}, message {id, role,
// content: [{type: output_text, text, annotations: [], logprobs: []}]}, function_call {id, call_id,
// name, arguments}, in the order the model wrote them. usage: input_tokens (cached_tokens),
// output_tokens (reasoning_tokens: the reasoning text re-tokenized), total_tokens.
#include <string>

#include "core/json.h"
#include "server/openai_api.h"

namespace g4::server {

struct ResponsesRequest {
  ChatRequest chat;               // the same request as a chat completion
  Json echo = Json::object();     // the request's settings as the response object repeats them
};

// Throws ApiError (400) naming the Responses field.
ResponsesRequest parse_responses_request(const Json& body, const ParseContext& ctx);

// The Responses field for a chat-request field named in an error ("max_completion_tokens" ->
// "max_output_tokens", "tools[0].function.parameters" -> "tools[0].parameters", ...).
std::string responses_param(const std::string& chat_param);

}  // namespace g4::server
