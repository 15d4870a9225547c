#include "server/constraints.h"

#include <algorithm>

#include "core/error.h"
#include "runtime/chat.h"
#include "server/openai_api.h"

namespace g4::server {

ConstraintTokens::ConstraintTokens(std::shared_ptr<const Tokenizer> tokenizer) : tok_(std::move(tokenizer)) {}

void ConstraintTokens::build() const {
  std::call_once(once_, [this] {
    bytes_ = constraint_token_bytes(*tok_);
    vocab_ = std::make_unique<ConstraintVocab>(bytes_);
  });
}

const std::vector<std::string>& ConstraintTokens::bytes() const {
  build();
  return bytes_;
}

const ConstraintVocab& ConstraintTokens::vocab() const {
  build();
  return *vocab_;
}

namespace {

class JsonTokenConstraint : public TokenConstraint {
 public:
  JsonTokenConstraint(std::shared_ptr<const ConstraintTokens> t, std::unique_ptr<JsonConstraint> j, std::vector<int32_t> end)
      : t_(std::move(t)), json_(std::move(j)), end_(std::move(end)) {}

  bool allowed(std::vector<uint8_t>& mask) override {
    compute_allowed_mask(*json_, t_->vocab(), end_, mask);
    return true;
  }
  void accept(int32_t token) override {
    if (std::find(end_.begin(), end_.end(), token) != end_.end()) return;
    const auto& b = t_->bytes();
    if (token >= 0 && size_t(token) < b.size()) json_->accept_bytes(b[size_t(token)]);
  }

 private:
  std::shared_ptr<const ConstraintTokens> t_;
  std::unique_ptr<JsonConstraint> json_;
  std::vector<int32_t> end_;
};

class ToolCallConstraint : public TokenConstraint {
 public:
  ToolCallConstraint(std::shared_ptr<const ConstraintTokens> t, std::unique_ptr<JsonConstraint> call)
      : t_(std::move(t)), call_(std::move(call)) {
    const Tokenizer& tok = t_->tokenizer();
    auto id = [&](std::string_view piece) {
      auto v = tok.find_token(piece);
      if (!v) throw Error("the model's vocabulary has no " + std::string(piece) + " token, so tool calls cannot be forced");
      return *v;
    };
    open_ = id(gemma4::kToolCallOpen);
    close_ = id(gemma4::kToolCallClose);
    end_ = id(gemma4::kToolResponse);
    id(gemma4::kQuote);  // string arguments are written between these
  }

  bool allowed(std::vector<uint8_t>& mask) override {
    switch (phase_) {
      case Phase::Open:
        only(mask, open_);
        return true;
      case Phase::Body:
        compute_allowed_mask(*call_, t_->vocab(), {close_}, mask);
        return true;
      case Phase::End:
        only(mask, end_);
        return true;
      case Phase::Done:
        return false;
    }
    return false;
  }

  void accept(int32_t token) override {
    switch (phase_) {
      case Phase::Open:
        phase_ = Phase::Body;
        return;
      case Phase::Body:
        if (token == close_) {
          phase_ = Phase::End;
        } else {
          const auto& b = t_->bytes();
          if (token >= 0 && size_t(token) < b.size()) call_->accept_bytes(b[size_t(token)]);
        }
        return;
      case Phase::End:
        phase_ = Phase::Done;
        return;
      case Phase::Done:
        return;
    }
  }

 private:
  enum class Phase { Open, Body, End, Done };
  void only(std::vector<uint8_t>& mask, int32_t id) const {
    mask.assign(t_->vocab().size(), 0);
    mask[size_t(id)] = 1;
  }
  std::shared_ptr<const ConstraintTokens> t_;
  std::unique_ptr<JsonConstraint> call_;
  int32_t open_ = -1, close_ = -1, end_ = -1;
  Phase phase_ = Phase::Open;
};

}  // namespace

std::unique_ptr<TokenConstraint> make_json_constraint(std::shared_ptr<const ConstraintTokens> tokens,
                                                      std::unique_ptr<JsonConstraint> json, std::vector<int32_t> end_ids) {
  return std::make_unique<JsonTokenConstraint>(std::move(tokens), std::move(json), std::move(end_ids));
}

std::unique_ptr<TokenConstraint> make_tool_call_constraint(std::shared_ptr<const ConstraintTokens> tokens,
                                                           std::unique_ptr<JsonConstraint> call) {
  return std::make_unique<ToolCallConstraint>(std::move(tokens), std::move(call));
}

std::unique_ptr<TokenConstraint> make_forced_tool_call(std::shared_ptr<const ConstraintTokens> tokens,
                                                       const Json& tools, const std::string& only_name) {
  std::vector<ToolSchema> schemas;
  std::vector<size_t> index;  // schemas[k] is tools[index[k]]
  for (size_t i = 0; i < tools.size(); ++i) {
    const Json& f = tools[i]["function"];
    std::string name = f["name"].get<std::string>();
    if (!only_name.empty() && name != only_name) continue;
    schemas.push_back({name, f.contains("parameters") ? f["parameters"] : Json::object()});
    index.push_back(i);
  }
  JsonConstraintOptions o;
  o.syntax = JsonSyntax::Gemma;
  std::unique_ptr<JsonConstraint> call;
  try {
    call = JsonConstraint::tool_call(schemas, o);
  } catch (const SchemaError& e) {
    const std::string where =
        e.tool >= 0 ? "tools[" + std::to_string(index[size_t(e.tool)]) + "].function.parameters" : "tools";
    throw ApiError(400, "cannot force a call of this tool: '" + where + "': " + e.what(), where);
  }
  return make_tool_call_constraint(std::move(tokens), std::move(call));
}

}  // namespace g4::server
