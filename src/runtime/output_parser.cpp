#include "runtime/output_parser.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <utility>
#include <vector>

#include "core/error.h"
#include "runtime/stop.h"

namespace g4 {

namespace {

constexpr std::string_view kChannelOpen = "<|channel>";
constexpr std::string_view kChannelClose = "<channel|>";
constexpr std::string_view kNlChannelClose = "\n<channel|>";
constexpr std::string_view kToolCallOpen = "<|tool_call>";
constexpr std::string_view kToolCallClose = "<tool_call|>";
constexpr std::string_view kTurnEnd = "<turn|>";
constexpr std::string_view kToolResponse = "<|tool_response>";
constexpr std::string_view kQuote = "<|\"|>";
constexpr std::string_view kThoughtHeader = "thought\n";

const std::vector<std::string>& content_markers() {
  static const std::vector<std::string> m = {std::string(kChannelOpen), std::string(kToolCallOpen),
                                             std::string(kChannelClose), std::string(kTurnEnd),
                                             std::string(kToolResponse)};
  return m;
}
const std::vector<std::string>& reasoning_markers() {
  static const std::vector<std::string> m = {std::string(kNlChannelClose), std::string(kChannelClose),
                                             std::string(kToolCallOpen), std::string(kTurnEnd),
                                             std::string(kToolResponse)};
  return m;
}
// markers that end a tool call when outside a <|"|> string
const std::vector<std::string>& tool_call_markers() {
  static const std::vector<std::string> m = {std::string(kQuote), std::string(kToolCallClose),
                                             std::string(kToolCallOpen), std::string(kTurnEnd),
                                             std::string(kToolResponse)};
  return m;
}

// Earliest occurrence of any marker; on equal position the longer marker.
size_t find_first(std::string_view buf, const std::vector<std::string>& markers, size_t* which) {
  size_t best = std::string_view::npos;
  for (size_t k = 0; k < markers.size(); ++k) {
    size_t p = buf.find(markers[k]);
    if (p == std::string_view::npos) continue;
    if (best == std::string_view::npos || p < best ||
        (p == best && markers[k].size() > markers[*which].size())) {
      best = p;
      *which = k;
    }
  }
  return best;
}

bool is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_ws(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_ws(s.back())) s.remove_suffix(1);
  return s;
}

bool starts_with(std::string_view s, size_t i, std::string_view m) {
  return s.size() - i >= m.size() && s.compare(i, m.size(), m) == 0;
}

// ---- Gemma argument syntax ----

class ArgParser {
 public:
  explicit ArgParser(std::string_view s) : s_(s) {}

  Json parse_document() {
    skip_ws();
    if (!starts_with(s_, i_, "{")) fail("expected '{'");
    Json v = parse_value(0);
    skip_ws();
    if (i_ != s_.size()) fail("unexpected text after the arguments");
    return v;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw Error("tool call arguments: " + what + " at byte " + std::to_string(i_) + " of \"" +
                std::string(s_.substr(0, 200)) + (s_.size() > 200 ? "...\"" : "\""));
  }
  void skip_ws() {
    while (i_ < s_.size() && is_ws(s_[i_])) ++i_;
  }

  std::string parse_gemma_string() {  // at <|"|>
    i_ += kQuote.size();
    size_t end = s_.find(kQuote, i_);
    if (end == std::string_view::npos) fail("unterminated <|\"|> string");
    std::string out(s_.substr(i_, end - i_));
    i_ = end + kQuote.size();
    return out;
  }

  std::string parse_json_string() {  // at "
    size_t start = i_;
    ++i_;
    while (i_ < s_.size() && s_[i_] != '"') {
      if (s_[i_] == '\\') ++i_;
      ++i_;
    }
    if (i_ >= s_.size()) fail("unterminated string");
    ++i_;
    try {
      return Json::parse(s_.substr(start, i_ - start)).get<std::string>();
    } catch (const Json::exception&) {
      i_ = start;
      fail("invalid JSON string");
    }
  }

  Json parse_value(int depth) {
    if (depth > 64) fail("nesting too deep");
    skip_ws();
    if (i_ >= s_.size()) fail("unexpected end");
    if (starts_with(s_, i_, kQuote)) return parse_gemma_string();
    char c = s_[i_];
    if (c == '"') return parse_json_string();
    if (c == '{') {
      ++i_;
      Json obj = Json::object();
      skip_ws();
      if (starts_with(s_, i_, "}")) {
        ++i_;
        return obj;
      }
      for (;;) {
        skip_ws();
        std::string key = parse_key();
        skip_ws();
        if (!starts_with(s_, i_, ":")) fail("expected ':' after key \"" + key + "\"");
        ++i_;
        obj[key] = parse_value(depth + 1);
        skip_ws();
        if (starts_with(s_, i_, ",")) {
          ++i_;
          skip_ws();
          if (starts_with(s_, i_, "}")) {  // trailing comma
            ++i_;
            return obj;
          }
          continue;
        }
        if (starts_with(s_, i_, "}")) {
          ++i_;
          return obj;
        }
        fail("expected ',' or '}'");
      }
    }
    if (c == '[') {
      ++i_;
      Json arr = Json::array();
      skip_ws();
      if (starts_with(s_, i_, "]")) {
        ++i_;
        return arr;
      }
      for (;;) {
        arr.push_back(parse_value(depth + 1));
        skip_ws();
        if (starts_with(s_, i_, ",")) {
          ++i_;
          skip_ws();
          if (starts_with(s_, i_, "]")) {
            ++i_;
            return arr;
          }
          continue;
        }
        if (starts_with(s_, i_, "]")) {
          ++i_;
          return arr;
        }
        fail("expected ',' or ']'");
      }
    }
    // bare word: number, literal or unquoted text up to a delimiter
    size_t start = i_;
    while (i_ < s_.size() && s_[i_] != ',' && s_[i_] != '}' && s_[i_] != ']' &&
           !starts_with(s_, i_, kQuote))
      ++i_;
    std::string_view word = trim(s_.substr(start, i_ - start));
    if (word.empty()) {
      i_ = start;
      fail("expected a value");
    }
    if (word == "true" || word == "True") return true;
    if (word == "false" || word == "False") return false;
    if (word == "null" || word == "None" || word == "none") return nullptr;
    if (std::isdigit((unsigned char)word[0]) || word[0] == '-') {
      Json n = Json::parse(word, nullptr, false);
      if (!n.is_discarded() && n.is_number()) return n;
    }
    return std::string(word);
  }

  std::string parse_key() {
    if (starts_with(s_, i_, kQuote)) return parse_gemma_string();
    if (i_ < s_.size() && s_[i_] == '"') return parse_json_string();
    size_t start = i_;
    while (i_ < s_.size() && s_[i_] != ':' && s_[i_] != ',' && s_[i_] != '}' && s_[i_] != '{' &&
           s_[i_] != '[' && s_[i_] != ']')
      ++i_;
    std::string_view key = trim(s_.substr(start, i_ - start));
    if (key.empty()) {
      i_ = start;
      fail("expected a key");
    }
    return std::string(key);
  }

  std::string_view s_;
  size_t i_ = 0;
};

void format_value(const Json& v, std::string& out) {
  switch (v.type()) {
    case Json::value_t::string:
      out += kQuote;
      out += v.get_ref<const std::string&>();
      out += kQuote;
      break;
    case Json::value_t::object: {
      // Keys sorted, as the official chat template writes arguments (its `| dictsort`): the model has
      // only ever seen them in that order.
      std::vector<std::pair<const std::string*, const Json*>> members;
      for (auto it = v.begin(); it != v.end(); ++it) members.emplace_back(&it.key(), &it.value());
      // dictsort compares case-insensitively and keeps the original order of equal keys.
      auto lower = [](const std::string& k) {
        std::string l = k;
        for (char& c : l) c = char(std::tolower(static_cast<unsigned char>(c)));
        return l;
      };
      std::stable_sort(members.begin(), members.end(),
                       [&](const auto& a, const auto& b) { return lower(*a.first) < lower(*b.first); });
      out += '{';
      bool first = true;
      for (const auto& [key, value] : members) {
        if (!first) out += ',';
        first = false;
        out += *key;
        out += ':';
        format_value(*value, out);
      }
      out += '}';
      break;
    }
    case Json::value_t::array: {
      out += '[';
      bool first = true;
      for (const Json& e : v) {
        if (!first) out += ',';
        first = false;
        format_value(e, out);
      }
      out += ']';
      break;
    }
    default:
      out += v.dump();  // numbers, true/false, null
  }
}

}  // namespace

// ---- OutputParser ----

OutputParser::OutputParser() : OutputParser(Options{}) {}

OutputParser::OutputParser(Options options) {
  if (options.start_in_reasoning) mode_ = Mode::Reasoning;
}

OutputParser::Delta OutputParser::push(std::string_view text) {
  Delta d;
  if (mode_ == Mode::Done) return d;
  buf_.append(text);
  process(d, false);
  return d;
}

OutputParser::Delta OutputParser::finish() {
  Delta d;
  process(d, true);
  if (mode_ == Mode::ToolCall) {
    emit_tool_call(d, buf_, true);
    buf_.clear();
    mode_ = Mode::Content;
  }
  buf_.clear();
  return d;
}

void OutputParser::emit_tool_call(Delta& d, std::string_view body, bool final_unterminated) {
  std::string_view b = trim(body);
  if (b.substr(0, 5) == "call:") b.remove_prefix(5);
  size_t brace = b.find('{');
  std::string name(trim(b.substr(0, brace)));
  Json args = Json::object();
  bool ok = !name.empty();
  if (ok && brace != std::string_view::npos) {
    try {
      args = ArgParser(b.substr(brace)).parse_document();
    } catch (const Error&) {
      ok = false;
    }
  } else if (ok && final_unterminated) {
    ok = false;  // cut off before its arguments
  }
  if (!ok) {
    if (final_unterminated) {
      // A truncated call: keep its text rather than invent a call.
      d.content += kToolCallOpen;
      d.content += body;
      return;
    }
    // A malformed but closed call: report it as a call whose arguments are the raw text.
    d.tool_calls.push_back(ToolCallDelta{n_calls_++, name,
                                         brace == std::string_view::npos ? std::string("{}")
                                                                         : std::string(b.substr(brace))});
    return;
  }
  d.tool_calls.push_back(ToolCallDelta{n_calls_++, std::move(name), args.dump()});
}

void OutputParser::process(Delta& d, bool final) {
  for (;;) {
    switch (mode_) {
      case Mode::Done:
        buf_.clear();
        return;

      case Mode::Content: {
        size_t which = 0;
        size_t pos = find_first(buf_, content_markers(), &which);
        if (pos == std::string::npos) {
          size_t keep = final ? 0 : partial_match_suffix(buf_, content_markers());
          d.content.append(buf_, 0, buf_.size() - keep);
          buf_.erase(0, buf_.size() - keep);
          return;
        }
        d.content.append(buf_, 0, pos);
        const std::string& m = content_markers()[which];
        buf_.erase(0, pos + m.size());
        if (m == kChannelOpen) mode_ = Mode::ChannelHeader;
        else if (m == kToolCallOpen) mode_ = Mode::ToolCall, tc_scan_ = 0, tc_in_str_ = false;
        else if (m == kChannelClose) {}  // stray close: dropped
        else mode_ = Mode::Done;
        break;
      }

      case Mode::ChannelHeader: {
        if (buf_.compare(0, kThoughtHeader.size(), kThoughtHeader) == 0 &&
            buf_.size() >= kThoughtHeader.size()) {
          buf_.erase(0, kThoughtHeader.size());
          mode_ = Mode::Reasoning;
          break;
        }
        if (!final && buf_.size() < kThoughtHeader.size() &&
            kThoughtHeader.compare(0, buf_.size(), buf_) == 0)
          return;  // could still be "thought\n"
        mode_ = Mode::Reasoning;  // some other channel text: keep it as reasoning
        break;
      }

      case Mode::Reasoning: {
        size_t which = 0;
        size_t pos = find_first(buf_, reasoning_markers(), &which);
        if (pos == std::string::npos) {
          size_t keep = final ? 0 : partial_match_suffix(buf_, reasoning_markers());
          d.reasoning.append(buf_, 0, buf_.size() - keep);
          buf_.erase(0, buf_.size() - keep);
          return;
        }
        d.reasoning.append(buf_, 0, pos);
        const std::string& m = reasoning_markers()[which];
        buf_.erase(0, pos + m.size());
        if (m == kNlChannelClose || m == kChannelClose) mode_ = Mode::Content;
        else if (m == kToolCallOpen) mode_ = Mode::ToolCall, tc_scan_ = 0, tc_in_str_ = false;
        else mode_ = Mode::Done;
        break;
      }

      case Mode::ToolCall: {
        size_t i = tc_scan_;
        bool in_str = tc_in_str_;
        const std::string* end_marker = nullptr;
        size_t end_pos = 0;
        while (i < buf_.size()) {
          if (buf_[i] != '<') {
            ++i;
            continue;
          }
          const std::string* hit = nullptr;
          bool partial = false;
          for (const std::string& m : tool_call_markers()) {
            if (in_str && m != kQuote) continue;
            if (starts_with(buf_, i, m)) {
              hit = &m;
              break;
            }
            if (buf_.size() - i < m.size() && m.compare(0, buf_.size() - i, buf_, i) == 0) partial = true;
          }
          if (!hit) {
            if (partial && !final) break;  // wait for more text
            ++i;
            continue;
          }
          if (*hit == kQuote) {
            in_str = !in_str;
            i += hit->size();
            continue;
          }
          end_marker = hit;
          end_pos = i;
          break;
        }
        if (!end_marker) {
          tc_scan_ = i;
          tc_in_str_ = in_str;
          return;  // finish() deals with an unterminated call
        }
        emit_tool_call(d, std::string_view(buf_).substr(0, end_pos), false);
        buf_.erase(0, end_pos + end_marker->size());
        tc_scan_ = 0;
        tc_in_str_ = false;
        if (*end_marker == kToolCallClose) mode_ = Mode::Content;
        else if (*end_marker == kToolCallOpen) mode_ = Mode::ToolCall;
        else mode_ = Mode::Done;
        break;
      }
    }
  }
}

ParsedOutput parse_output(std::string_view full, bool start_in_reasoning) {
  OutputParser::Options opt;
  opt.start_in_reasoning = start_in_reasoning;
  OutputParser p(opt);
  ParsedOutput out;
  auto take = [&out](OutputParser::Delta&& d) {
    out.reasoning += d.reasoning;
    out.content += d.content;
    for (auto& tc : d.tool_calls) out.tool_calls.push_back(ToolCall{std::move(tc.name), std::move(tc.arguments_json)});
  };
  take(p.push(full));
  take(p.finish());
  return out;
}

Json parse_gemma_arguments(std::string_view text) { return ArgParser(text).parse_document(); }

std::string format_tool_arguments_gemma(const Json& arguments) {
  std::string out;
  format_value(arguments, out);
  return out;
}

std::string format_tool_call_gemma(const std::string& name, const Json& arguments) {
  std::string out = "<|tool_call>call:" + name;
  if (arguments.is_object()) {
    format_value(arguments, out);
  } else if (arguments.is_string()) {  // pre-rendered argument text, as the template allows
    out += '{';
    out += arguments.get_ref<const std::string&>();
    out += '}';
  } else {
    throw Error("tool call \"" + name + "\": arguments must be a JSON object");
  }
  out += kToolCallClose;
  return out;
}

std::string strip_thoughts(std::string_view text) {
  // The template: for part in text.split('<channel|>'): keep part.split('<|channel>')[0] when the
  // part contains '<|channel>', else the whole part; then trim.
  std::string result;
  size_t start = 0;
  for (;;) {
    size_t end = text.find(kChannelClose, start);
    std::string_view part = text.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
    size_t open = part.find(kChannelOpen);
    result.append(open == std::string_view::npos ? part : part.substr(0, open));
    if (end == std::string_view::npos) break;
    start = end + kChannelClose.size();
  }
  return std::string(trim(result));
}

}  // namespace g4
