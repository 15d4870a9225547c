#pragma once
// Splits a Gemma 4 answer into reasoning, content and tool calls, incrementally while streaming.
//
//   <|channel>thought\n REASONING <channel|>              -> reasoning (one trailing "\n" dropped,
//                                                           as the template adds it back)
//   <|tool_call>call:NAME{key:<|"|>str<|"|>,n:1}<tool_call|> -> tool call, arguments as JSON
//   <turn|> or <|tool_response>                           -> end of the answer (rest ignored)
//   everything else                                       -> content, verbatim
//
// While streaming, text that could be the start of a marker ("<|tool", "\n<chan") is held back,
// so a marker never leaks into content or reasoning. A tool call is emitted whole, once its
// closing <tool_call|> has arrived (one streamed delta per call, with the complete arguments).
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/json.h"

namespace g4 {

struct ToolCall {
  std::string name;
  std::string arguments_json;  // compact JSON object text (keys sorted)
};

struct ToolCallDelta {
  int index = 0;  // 0, 1, ... in order of appearance
  std::string name;
  std::string arguments_json;
};

struct ParsedOutput {
  std::string reasoning;
  std::string content;
  std::vector<ToolCall> tool_calls;
};

class OutputParser {
 public:
  struct Options {
    // The prompt already opened the thought channel (it ends with "<|channel>thought\n"), so the
    // answer starts inside the reasoning.
    bool start_in_reasoning = false;
  };
  struct Delta {
    std::string reasoning, content;
    std::vector<ToolCallDelta> tool_calls;
    bool empty() const { return reasoning.empty() && content.empty() && tool_calls.empty(); }
  };

  OutputParser();
  explicit OutputParser(Options options);

  Delta push(std::string_view text);
  // End of stream: releases held text. A tool call without its closing marker is still returned
  // as a call when its arguments parse completely; otherwise its raw text goes to content.
  Delta finish();

  // True once <turn|> or <|tool_response> was seen (later text is ignored).
  bool ended() const { return mode_ == Mode::Done; }
  int tool_call_count() const { return n_calls_; }

 private:
  enum class Mode { Content, ChannelHeader, Reasoning, ToolCall, Done };
  void process(Delta& d, bool final);
  void emit_tool_call(Delta& d, std::string_view body, bool final_unterminated);

  Mode mode_ = Mode::Content;
  std::string buf_;
  size_t tc_scan_ = 0;     // tool-call mode: bytes of buf_ already scanned
  bool tc_in_str_ = false; // tool-call mode: inside a <|"|> string at tc_scan_
  int n_calls_ = 0;
};

// One-shot: the same result as pushing `full` into an OutputParser and finishing.
ParsedOutput parse_output(std::string_view full, bool start_in_reasoning = false);

// Parses Gemma's argument syntax "{key:<|"|>text<|"|>,n:1.5,flag:true,list:[1,2],obj:{a:null}}"
// into JSON. Keys may be bare, <|"|>-quoted or JSON-quoted; strings are <|"|>-quoted (raw, no
// escapes) or JSON-quoted; None/True/False are accepted; an unquoted word becomes a string.
// Throws g4::Error on malformed input.
Json parse_gemma_arguments(std::string_view text);

// The inverse, as the chat template renders tool-call arguments: keys sorted and bare, strings
// <|"|>-quoted, numbers/booleans/null raw. An object gives "{...}"; other values their rendering.
std::string format_tool_arguments_gemma(const Json& arguments);
// "<|tool_call>call:NAME{...}<tool_call|>"
std::string format_tool_call_gemma(const std::string& name, const Json& arguments);

// What the chat template does to earlier model turns (strip_thinking): removes every
// <|channel>...<channel|> span (and an unclosed <|channel>... up to the next <channel|>), then
// trims surrounding whitespace.
std::string strip_thoughts(std::string_view assistant_text);

}  // namespace g4
