#pragma once
// Constrained decoding for the API: response_format (JSON object / JSON schema) and forced tool calls
// (tool_choice "required" or a named function), both on the one compiler of runtime/json_constraint.h.
//
// A forced tool call is generated in Gemma 4's native syntax, the one its chat template shows the
// model and the output parser reads:
//   <|tool_call>call:NAME{key:<|"|>text<|"|>,n:1}<tool_call|><|tool_response>
// NAME is one of the allowed tools; the arguments follow the tool's parameter schema (keys in the
// template's dictsort order, strings between <|"|> tokens); <|tool_response> is an end-of-generation
// token, so the answer ends right after the call and arrives as a normal tool call. A parameter
// schema the compiler cannot honour is a 400 naming the keyword, never an unconstrained call.
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

// Token bytes for constrained decoding (runtime's constraint_token_bytes) and the tries built from
// them: built once per vocabulary, on first use, shared by every request; thread-safe.
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

// A tool call whose body ("call:NAME{...}") follows `call` (JsonConstraint::tool_call). Throws
// g4::Error when the vocabulary lacks the tool-call tokens.
std::unique_ptr<TokenConstraint> make_tool_call_constraint(std::shared_ptr<const ConstraintTokens> tokens,
                                                           std::unique_ptr<JsonConstraint> call);

// The forced call for a chat request: every tool of `tools` (the request's [{type, function:{name,
// parameters}}]), or only `only_name` when it is not empty. A schema the compiler cannot honour
// throws ApiError 400 with param "tools[i].function.parameters" and the keyword's JSON pointer in
// the message.
std::unique_ptr<TokenConstraint> make_forced_tool_call(std::shared_ptr<const ConstraintTokens> tokens,
                                                       const Json& tools, const std::string& only_name);

}  // namespace g4::server
