#include "server/constraints.h"

#include <algorithm>

#include "core/error.h"

namespace g4::server {

ConstraintTokens::ConstraintTokens(std::shared_ptr<const Tokenizer> tokenizer) : tok_(std::move(tokenizer)) {}

void ConstraintTokens::build() const {
  std::call_once(once_, [this] {
    const int32_t n = tok_->vocab_size();
    bytes_.resize(size_t(n));
    for (int32_t id = 0; id < n; ++id)
      if (!tok_->is_special(id)) bytes_[size_t(id)] = tok_->token_bytes(id);
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
  ToolCallConstraint(std::shared_ptr<const ConstraintTokens> t, std::vector<ForcedTool> tools)
      : t_(std::move(t)), tools_(std::move(tools)) {
    const Tokenizer& tok = t_->tokenizer();
    auto id = [&](const char* piece) {
      auto v = tok.find_token(piece);
      if (!v) throw Error(std::string("the model's vocabulary has no ") + piece + " token, so tool calls cannot be forced");
      return *v;
    };
    open_ = id("<|tool_call>");
    close_ = id("<tool_call|>");
    end_ = id("<|tool_response>");
    check(!tools_.empty(), "no tool to call");
    for (auto& f : tools_) names_.push_back("call:" + f.name);
  }

  bool allowed(std::vector<uint8_t>& mask) override {
    const auto& bytes = t_->bytes();
    mask.assign(bytes.size(), 0);
    switch (phase_) {
      case Phase::Open:
        mask[size_t(open_)] = 1;
        return true;
      case Phase::Name: {
        for (size_t id = 0; id < bytes.size(); ++id) {
          const std::string& b = bytes[id];
          if (b.empty()) continue;
          std::string s = so_far_ + b;
          for (size_t k = 0; k < names_.size(); ++k) {
            const std::string& c = names_[k];
            if (s.size() <= c.size() ? c.compare(0, s.size(), s) == 0
                                     : (s.compare(0, c.size(), c) == 0 && tools_[k].arguments->can_accept(std::string_view(s).substr(c.size())))) {
              mask[id] = 1;
              break;
            }
          }
        }
        return true;
      }
      case Phase::Args:
        compute_allowed_mask(*tools_[chosen_].arguments, t_->vocab(), {close_}, mask);
        return true;
      case Phase::End:
        mask[size_t(end_)] = 1;
        return true;
      case Phase::Done:
        return false;
    }
    return false;
  }

  void accept(int32_t token) override {
    const auto& bytes = t_->bytes();
    switch (phase_) {
      case Phase::Open:
        phase_ = Phase::Name;
        return;
      case Phase::Name: {
        so_far_ += bytes[size_t(token)];
        for (size_t k = 0; k < names_.size(); ++k) {
          const std::string& c = names_[k];
          if (so_far_.size() > c.size() && so_far_.compare(0, c.size(), c) == 0 &&
              tools_[k].arguments->accept_bytes(std::string_view(so_far_).substr(c.size()))) {
            chosen_ = k;
            phase_ = Phase::Args;
            return;
          }
        }
        return;
      }
      case Phase::Args:
        if (token == close_) phase_ = Phase::End;
        else tools_[chosen_].arguments->accept_bytes(bytes[size_t(token)]);
        return;
      case Phase::End:
        phase_ = Phase::Done;
        return;
      case Phase::Done:
        return;
    }
  }

 private:
  enum class Phase { Open, Name, Args, End, Done };
  std::shared_ptr<const ConstraintTokens> t_;
  std::vector<ForcedTool> tools_;
  std::vector<std::string> names_;
  int32_t open_ = -1, close_ = -1, end_ = -1;
  Phase phase_ = Phase::Open;
  std::string so_far_;
  size_t chosen_ = 0;
};

}  // namespace

std::unique_ptr<TokenConstraint> make_json_constraint(std::shared_ptr<const ConstraintTokens> tokens,
                                                      std::unique_ptr<JsonConstraint> json, std::vector<int32_t> end_ids) {
  return std::make_unique<JsonTokenConstraint>(std::move(tokens), std::move(json), std::move(end_ids));
}

std::unique_ptr<TokenConstraint> make_tool_call_constraint(std::shared_ptr<const ConstraintTokens> tokens,
                                                           std::vector<ForcedTool> tools) {
  return std::make_unique<ToolCallConstraint>(std::move(tokens), std::move(tools));
}

std::unique_ptr<JsonConstraint> tool_arguments_constraint(const Json& parameters) {
  JsonConstraintOptions o;
  o.max_whitespace = 0;  // compact, as Gemma writes its calls
  if (parameters.is_object() && !parameters.empty()) {
    try {
      return JsonConstraint::from_schema(parameters, o);
    } catch (const Error&) {
    }
  }
  return JsonConstraint::any_object(o);
}

}  // namespace g4::server
