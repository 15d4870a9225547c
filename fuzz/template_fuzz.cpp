// libFuzzer target: the input is a chat template. It is parsed and, when it parses, rendered against a small
// conversation under tight sandbox limits. Errors must be g4::Error; anything else (a crash, a hang, an
// unexpected exception, a leak) is a bug.
#include <cstddef>
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "template/chat_template.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const nlohmann::ordered_json context = nlohmann::ordered_json::parse(R"({
    "bos_token": "<bos>", "add_generation_prompt": true, "enable_thinking": false,
    "messages": [
      {"role": "system", "content": "Be brief."},
      {"role": "user", "content": "Hi ünïcödé"},
      {"role": "assistant", "content": "<|channel>thought\nx<channel|>Hello", "tool_calls": [
        {"id": "c0", "function": {"name": "f", "arguments": {"a": 1, "b": [true, null, 2.5]}}}]},
      {"role": "tool", "tool_call_id": "c0", "content": "{\"ok\": 1}"}
    ],
    "tools": [{"type": "function", "function": {"name": "f", "description": "d",
      "parameters": {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}}}]
  })");
  g4::TemplateLimits limits;
  limits.max_loop_iterations = 20000;
  limits.max_steps = 200000;
  limits.max_call_depth = 64;
  limits.max_output_bytes = 1 << 16;
  limits.max_range = 10000;
  try {
    g4::ChatTemplate tpl(std::string(reinterpret_cast<const char*>(data), size), "fuzz");
    tpl.set_limits(limits);
    tpl.render(context);
  } catch (const g4::Error&) {
  }
  return 0;
}
