#pragma once
// POST /v1/messages and /v1/messages/count_tokens: Anthropic's Messages API, mapped onto the
// chat-completions pipeline (the request is translated into a chat request and validated by the chat
// parser, whose errors are renamed to the Messages fields). Errors on these paths, from any layer
// (authentication, routing, validation, generation), have Anthropic's shape:
// {"type": "error", "error": {"type": "invalid_request_error", "message": "..."}}.
//
// Headers: x-api-key is accepted like 'Authorization: Bearer' when the server has --api-key;
// anthropic-version and anthropic-beta are accepted (a beta feature's request fields are still refused
// by name unless implemented here).
//
// Request fields:
//   model              required; any name is accepted; the answer names the served model
//   max_tokens         required, >= 1
//   messages           roles user and assistant; content a string or blocks:
//                        user: text, image {source: base64 {media_type image/png|jpeg|gif|webp|bmp, data},
//                          or url (refused by the media code: nothing is fetched)}, tool_result {tool_use_id,
//                          content: a string or text blocks,
//                          is_error: the result is shown to the model prefixed with "Error: "}
//                        assistant: text, tool_use {id, name, input}, thinking {thinking, signature}
//                          passed back (its text becomes the turn's reasoning; signatures are not checked:
//                          the client sends the whole conversation anyway, so an edited thought is no
//                          different from any other text it sends)
//                      Text blocks of one message are joined with "\n". Refused: documents,
//                      redacted_thinking (never produced here), server-tool blocks, citations, and a
//                      final assistant message (prefill: continuing a partial answer is not supported).
//   system             a string or text blocks (joined with "\n"), shown first as the system turn
//   tools              [{name, description, input_schema, strict}] (type absent or "custom"); server
//                      tools (web search, bash, text editor, ...) are refused
//   tool_choice        {type: auto | any | tool (name) | none, disable_parallel_tool_use}: any and tool
//                      force a call whose input follows the tool's schema (constrained decoding)
//   stop_sequences     up to 16 strings; stop_reason "stop_sequence" names the one that matched
//   temperature 0..1, top_p, top_k: as in chat completions
//   thinking           {type: "enabled", budget_tokens >= 1, < max_tokens} turns thinking on, the
//                      answer starts with a thinking block (the thought's opening tokens are forced, as a
//                      Gemma 4 model told to think writes them itself), and the budget is kept: when the
//                      thought reaches budget_tokens tokens, the next token is forced to close it
//                      (Anthropic's own minimum of 1024 is not imposed); {type: "adaptive"} turns thinking
//                      on and lets the model decide whether to think, without a budget; {type:
//                      "disabled"} (the default) off. Thinking cannot be combined with a forced tool
//                      (tool_choice any / tool), as with Anthropic.
//   stream             server-sent events: message_start, ping, then per content block
//                      content_block_start, content_block_delta (text_delta, thinking_delta,
//                      input_json_delta, signature_delta before a thinking block ends),
//                      content_block_stop; then message_delta (stop_reason, stop_sequence, usage) and
//                      message_stop. A failure after the stream began is an "error" event.
//   metadata {user_id}, service_tier (auto / standard_only), cache_control {type: "ephemeral", ttl}
//   (top level and on blocks): accepted (prompt prefixes are always cached in memory)
//   anything else (container, mcp_servers, output_config, context_management, ...) is refused by name.
//
// Answer: content blocks thinking {thinking, signature} / text / tool_use {id, name, input} in the
// order the model wrote them; stop_reason end_turn / max_tokens / stop_sequence / tool_use; usage
// input_tokens (the prompt tokens not read from the prefix cache), cache_read_input_tokens,
// cache_creation_input_tokens (0: caching needs no separate write), output_tokens.
//
// /v1/messages/count_tokens takes model, messages, system, tools, tool_choice and thinking and answers
// {"input_tokens": N}: the prompt's length as the chat template renders it.
#include <cstdint>
#include <string>

#include "core/json.h"
#include "server/openai_api.h"

namespace g4::server {

struct MessagesRequest {
  ChatRequest chat;             // the same request as a chat completion
  bool thinking_forced = false;  // thinking "enabled": the answer starts with a thought
  int64_t thinking_budget = -1;  // its budget_tokens; -1: no budget
};

// Throws ApiError (400) naming the Messages field. `count_tokens`: the count_tokens endpoint's fields.
MessagesRequest parse_messages_request(const Json& body, const ParseContext& ctx, bool count_tokens = false);

// The Messages field for a chat-request field named in an error ("stop" -> "stop_sequences", ...).
std::string messages_param(const std::string& chat_param);

// True for the paths whose errors have Anthropic's shape.
bool is_anthropic_path(const std::string& path);
// {"type":"error","error":{"type": <Anthropic's type for the status>, "message"}}
std::string anthropic_error_body(const ApiError& e);

}  // namespace g4::server
