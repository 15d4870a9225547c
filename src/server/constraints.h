#pragma once
// Constrained decoding for the API: response_format (JSON object / JSON schema) and forced tool calls
// (tool_choice "required" or a named function).
//
// A forced tool call is generated as
//   <|tool_call>call:NAME{"arg":...}<tool_call|><|tool_response>
// NAME is one of the allowed tools; the arguments are JSON constrained by the tool's parameter schema
// (any object when the schema uses keywords the JSON automaton does not support); <|tool_response>
// is an end-of-generation token, so the answer ends right after the call. The output parser reads
// JSON-quoted keys and strings inside the braces, so the call arrives as a normal tool call.
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/json.h"
#include "runtime/json_constraint.h"
#include "server/scheduler.h"
#include "text/tokenizer.h"

namespace g4::server {

// Token bytes for constrained decoding (special tokens map to "", so they are never chosen by a
// JSON automaton) and the trie built from them. Built once, on first use; thread-safe.
class ConstraintTokens {
 public:
  explicit ConstraintTokens(std::shared_ptr<const Tokenizer> tokenizer);
  const std::vector<std::string>& bytes() const;
  const ConstraintVocab& vocab() const;
  const Tokenizer& tokenizer() const { return *tok_; }

 private:
  void build() const;
  std::shared_ptr<const Tokenizer> tok_;
  mutable std::once_flag once_;
  mutable std::vector<std::string> bytes_;
  mutable std::unique_ptr<ConstraintVocab> vocab_;
};

// response_format: the whole answer is one JSON document; `end_ids` are allowed once it is complete.
std::unique_ptr<TokenConstraint> make_json_constraint(std::shared_ptr<const ConstraintTokens> tokens,
                                                      std::unique_ptr<JsonConstraint> json,
                                                      std::vector<int32_t> end_ids);

struct ForcedTool {
  std::string name;
  std::unique_ptr<JsonConstraint> arguments;
};

// A tool call to one of `tools`. Throws g4::Error when the vocabulary lacks the tool-call tokens.
std::unique_ptr<TokenConstraint> make_tool_call_constraint(std::shared_ptr<const ConstraintTokens> tokens,
                                                           std::vector<ForcedTool> tools);

// The argument automaton for a tool's "parameters" schema: the schema when supported, else any object.
std::unique_ptr<JsonConstraint> tool_arguments_constraint(const Json& parameters);

}  // namespace g4::server
