#include "runtime/chat.h"

#include <algorithm>
#include <map>

#include "core/error.h"
#include "core/mapped_file.h"

namespace g4 {

namespace {

// Private-use code points that bracket a special-token string found inside user text, so the
// tokenizer can be told not to treat it as a control token. They never reach the model.
constexpr const char* kOpen = "\xEE\x80\x80";   // U+E000
constexpr const char* kClose = "\xEE\x80\x81";  // U+E001
constexpr size_t kMarkLen = 3;

// The strings of every special token, grouped by first byte, longest first.
class SpecialStrings {
 public:
  explicit SpecialStrings(const Tokenizer& tok) {
    for (int32_t id = 0; id < tok.vocab_size(); ++id) {
      if (!tok.is_special(id)) continue;
      std::string p = tok.token_bytes(id);
      if (p.empty()) continue;
      by_first_[static_cast<unsigned char>(p[0])].push_back(p);
    }
    for (auto& [c, v] : by_first_)
      std::sort(v.begin(), v.end(), [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
  }

  // Wraps every special-token occurrence in `s` with the markers.
  std::string protect(const std::string& s) const {
    std::string out;
    out.reserve(s.size());
    for (size_t i = 0; i < s.size();) {
      auto it = by_first_.find(static_cast<unsigned char>(s[i]));
      size_t len = 0;
      if (it != by_first_.end())
        for (const std::string& p : it->second)
          if (s.compare(i, p.size(), p) == 0) { len = p.size(); break; }
      if (len) {
        out += kOpen;
        out.append(s, i, len);
        out += kClose;
        i += len;
      } else {
        out.push_back(s[i++]);
      }
    }
    return out;
  }

 private:
  std::map<unsigned char, std::vector<std::string>> by_first_;
};

// Applies protect() to every string inside a JSON value (message contents, tool definitions...).
// Recursive: callers with untrusted JSON bound its depth first (the server does, before parsing).
Json protect_strings(const Json& j, const SpecialStrings& sp) {
  if (j.is_string()) return sp.protect(j.get<std::string>());
  if (j.is_array()) {
    Json out = Json::array();
    for (const Json& x : j) out.push_back(protect_strings(x, sp));
    return out;
  }
  if (j.is_object()) {
    Json out = Json::object();
    for (auto it = j.begin(); it != j.end(); ++it) out[it.key()] = protect_strings(it.value(), sp);
    return out;
  }
  return j;
}

// Removes the markers; returns the clean text and the byte ranges that must stay plain text.
std::string strip_marks(const std::string& s, std::vector<std::pair<size_t, size_t>>* ranges) {
  std::string out;
  out.reserve(s.size());
  size_t open_at = std::string::npos;
  for (size_t i = 0; i < s.size();) {
    if (s.compare(i, kMarkLen, kOpen) == 0) {
      open_at = out.size();
      i += kMarkLen;
    } else if (s.compare(i, kMarkLen, kClose) == 0) {
      if (open_at != std::string::npos && ranges) ranges->emplace_back(open_at, out.size());
      open_at = std::string::npos;
      i += kMarkLen;
    } else {
      out.push_back(s[i++]);
    }
  }
  return out;
}

}  // namespace

struct ChatFormat::Specials : SpecialStrings {
  using SpecialStrings::SpecialStrings;
};

ChatFormat::ChatFormat(std::shared_ptr<const Tokenizer> tokenizer, std::string template_source, std::string origin)
    : tokenizer_(std::move(tokenizer)),
      template_(std::move(template_source), std::move(origin)),
      specials_(std::make_shared<const Specials>(*tokenizer_)) {
  for (int32_t id = 0; id < tokenizer_->vocab_size(); ++id)
    max_token_bytes_ = std::max(max_token_bytes_, tokenizer_->token_bytes(id).size());
}

std::unique_ptr<ChatFormat> ChatFormat::load(const std::string& model_path) {
  std::shared_ptr<const Tokenizer> tok = Tokenizer::load(model_path);
  std::string source = load_chat_template(model_path);
  return std::make_unique<ChatFormat>(std::move(tok), std::move(source), model_path);
}

static Json make_context(const Json& messages, const Json& tools, const ChatOptions& o, const Tokenizer& tok) {
  if (!messages.is_array()) throw Error("messages must be an array");
  Json ctx = o.extra_context.is_object() ? o.extra_context : Json::object();
  ctx["messages"] = messages;
  if (tools.is_array() && !tools.empty()) ctx["tools"] = tools;
  ctx["add_generation_prompt"] = o.add_generation_prompt;
  ctx["enable_thinking"] = o.enable_thinking;
  if (!ctx.contains("bos_token")) ctx["bos_token"] = tok.token_bytes(tok.bos_id());
  if (!ctx.contains("eos_token")) ctx["eos_token"] = tok.token_bytes(tok.eos_id());
  return ctx;
}

std::string ChatFormat::render(const Json& messages, const Json& tools, const ChatOptions& options) const {
  return template_.render(make_context(messages, tools, options, *tokenizer_));
}

std::vector<int32_t> ChatFormat::prompt_ids(const Json& messages, const Json& tools, const ChatOptions& options) const {
  Json safe_messages = protect_strings(messages, *specials_);
  Json safe_tools = protect_strings(tools, *specials_);
  const int64_t max_tokens = options.max_prompt_tokens;
  ChatTemplate tpl = template_;  // shares the parsed template; only the limits differ
  // A protected special-token string in user text gains two 3-byte marks and is at least one token, so
  // the marked text of T tokens has at most T * (max_token_bytes + 2 * kMarkLen) bytes.
  const uint64_t bytes_per_token = max_token_bytes_ + 2 * kMarkLen;
  if (max_tokens > 0) {
    TemplateLimits lim = tpl.limits();
    lim.max_steps = std::min<uint64_t>(lim.max_steps, options.max_template_steps);
    lim.max_loop_iterations = std::min<uint64_t>(lim.max_loop_iterations, options.max_template_steps);
    if (uint64_t(max_tokens) < lim.max_output_bytes / bytes_per_token)
      lim.max_output_bytes = size_t(uint64_t(max_tokens) * bytes_per_token);
    tpl.set_limits(lim);
  }
  std::string marked;
  try {
    marked = tpl.render(make_context(safe_messages, safe_tools, options, *tokenizer_));
  } catch (const Error& e) {
    // Output past the cap means more tokens than max_tokens (see above).
    if (max_tokens > 0 && std::string(e.what()).find("template output too large") != std::string::npos)
      throw PromptTooLong(max_tokens + 1, max_tokens);
    throw;
  }
  std::vector<std::pair<size_t, size_t>> plain;
  std::string text = strip_marks(marked, &plain);
  if (max_tokens > 0 && min_tokens(text) > max_tokens) throw PromptTooLong(min_tokens(text), max_tokens);
  std::vector<int32_t> ids = tokenizer_->encode_protected(text, plain);
  if (max_tokens > 0 && int64_t(ids.size()) > max_tokens) throw PromptTooLong(int64_t(ids.size()), max_tokens);
  return ids;
}

bool ChatFormat::opens_reasoning(const std::vector<int32_t>& prompt) const {
  size_t k = std::min<size_t>(prompt.size(), 4);
  std::vector<int32_t> tail(prompt.end() - long(k), prompt.end());
  std::string text = tokenizer_->decode(tail);
  return text.size() >= gemma4::kThoughtChannel.size() &&
         text.compare(text.size() - gemma4::kThoughtChannel.size(), std::string::npos, gemma4::kThoughtChannel) == 0;
}

AnswerStream::AnswerStream(const Tokenizer& tokenizer, StopConfig stop, bool start_in_reasoning)
    : tokenizer_(tokenizer),
      detok_([&tokenizer](int32_t id) { return tokenizer.is_control(id) ? std::string() : tokenizer.token_bytes(id); }),
      stop_(std::move(stop)),
      parser_(OutputParser::Options{start_in_reasoning}) {}

AnswerStream::Delta AnswerStream::parse(std::string text, bool stop) {
  Delta d;
  d.stop = stop;
  full_ += text;
  OutputParser::Delta p = parser_.push(text);
  if (stop && !finished_) {
    finished_ = true;
    OutputParser::Delta f = parser_.finish();
    p.reasoning += f.reasoning;
    p.content += f.content;
    p.tool_calls.insert(p.tool_calls.end(), f.tool_calls.begin(), f.tool_calls.end());
  }
  d.text = std::move(text);
  d.reasoning = std::move(p.reasoning);
  d.content = std::move(p.content);
  d.tool_calls = std::move(p.tool_calls);
  return d;
}

AnswerStream::Delta AnswerStream::push(int32_t token) {
  // Control tokens that structure the answer (<|channel>, <|tool_call>, ...) are text for the parser.
  std::string piece = tokenizer_.is_control(token) && !stop_.is_eog(token) ? tokenizer_.token_bytes(token) : detok_.push(token);
  StopDetector::Step s = stop_.push(token, piece);
  // Ended by an end-of-generation token or the budget: release what was held back. Ended by a stop
  // string: nothing at or after it is shown.
  if (s.stop && stop_.reason() != StopReason::StopString) s.text += stop_.flush() + detok_.flush();
  return parse(std::move(s.text), s.stop);
}

AnswerStream::Delta AnswerStream::finish() {
  if (finished_) return Delta{{}, {}, {}, {}, true};
  StopDetector::Step s = stop_.push_text(detok_.flush());
  std::string text = s.text + (s.stop ? std::string() : stop_.flush());
  return parse(std::move(text), true);
}

}  // namespace g4
