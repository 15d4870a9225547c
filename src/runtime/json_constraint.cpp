#include "runtime/json_constraint.h"

#include <algorithm>
#include <cctype>
#include <utility>

#include "core/error.h"
#include "runtime/detokenizer.h"
#include "runtime/json_machine.h"
#include "text/tokenizer.h"

namespace g4 {

using jsonc::Machine;
using jsonc::Schema;
using jsonc::State;

struct JsonConstraint::Impl {
  std::shared_ptr<const Schema> schema;
  State state;
};

JsonConstraint::JsonConstraint(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
JsonConstraint::~JsonConstraint() = default;

namespace {

std::unique_ptr<JsonConstraint::Impl> make_impl(std::shared_ptr<const Schema> schema) {
  auto impl = std::make_unique<JsonConstraint::Impl>();
  impl->state = Machine(*schema).initial();
  impl->schema = std::move(schema);
  return impl;
}

bool valid_tool_name(const std::string& name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name)
    if (!(std::isalnum(uint8_t(c)) || c == '_' || c == '-' || c == '.')) return false;
  return true;
}

}  // namespace

std::unique_ptr<JsonConstraint> JsonConstraint::any_object(const JsonConstraintOptions& options) {
  return std::unique_ptr<JsonConstraint>(new JsonConstraint(make_impl(jsonc::compile_any_object(options))));
}

std::unique_ptr<JsonConstraint> JsonConstraint::from_schema(const Json& schema, const JsonConstraintOptions& options) {
  return std::unique_ptr<JsonConstraint>(new JsonConstraint(make_impl(jsonc::compile_schema(schema, options))));
}

std::unique_ptr<JsonConstraint> JsonConstraint::from_schema_text(std::string_view text,
                                                                 const JsonConstraintOptions& options) {
  Json schema;
  try {
    schema = Json::parse(text);
  } catch (const Json::exception& e) {
    throw SchemaError("", "", std::string("JSON Schema: invalid JSON: ") + e.what());
  }
  return from_schema(schema, options);
}

std::unique_ptr<JsonConstraint> JsonConstraint::tool_call(const std::vector<ToolSchema>& tools,
                                                          const JsonConstraintOptions& options) {
  for (const ToolSchema& t : tools)
    if (!valid_tool_name(t.name))
      throw Error("tool name \"" + t.name + "\" must be 1-64 letters, digits, '_', '-' or '.'");
  return std::unique_ptr<JsonConstraint>(new JsonConstraint(make_impl(jsonc::compile_tool_calls(tools, options))));
}

bool JsonConstraint::accept_bytes(std::string_view bytes) {
  Machine m(*impl_->schema);
  State next = impl_->state;
  for (char ch : bytes)
    if (!m.step(next, uint8_t(ch))) return false;
  impl_->state = std::move(next);
  return true;
}

bool JsonConstraint::can_accept(std::string_view bytes) const {
  Machine m(*impl_->schema);
  State next = impl_->state;
  for (char ch : bytes)
    if (!m.step(next, uint8_t(ch))) return false;
  return true;
}

bool JsonConstraint::is_complete() const { return Machine(*impl_->schema).complete(impl_->state); }

bool JsonConstraint::must_end() const { return Machine(*impl_->schema).must_end(impl_->state); }

JsonSyntax JsonConstraint::syntax() const { return impl_->schema->syntax; }

std::unique_ptr<JsonConstraint> JsonConstraint::clone() const {
  return std::unique_ptr<JsonConstraint>(new JsonConstraint(std::make_unique<Impl>(*impl_)));
}

std::string gemma_to_constraint_bytes(std::string_view text) {
  static constexpr std::string_view kQuote = "<|\"|>";
  std::string out;
  size_t i = 0;
  while (i < text.size()) {
    if (text.compare(i, kQuote.size(), kQuote) == 0) {
      out += char(kGemmaQuote);
      i += kQuote.size();
    } else {
      out += text[i++];
    }
  }
  return out;
}

std::vector<std::string> constraint_token_bytes(const Tokenizer& tok) {
  const int32_t n = tok.vocab_size();
  std::vector<std::string> bytes(static_cast<size_t>(n));
  for (int32_t id = 0; id < n; ++id) {
    if (tok.is_special(id)) continue;
    std::string b = tok.token_bytes(id);
    bool usable = true;
    for (unsigned char c : b) usable = usable && c != 0xC0 && c != 0xC1 && c < 0xF5;
    if (usable) bytes[size_t(id)] = std::move(b);
  }
  if (auto q = tok.find_token("<|\"|>")) bytes[size_t(*q)] = std::string(1, char(kGemmaQuote));
  return bytes;
}

// ---------------------------------------------------------------------------------------------
// Vocabulary tries and masking

struct ConstraintVocab::Trie {
  // Nodes in preorder; node 0 is the root (empty prefix). The subtree of node i is
  // [i, i + subtree[i]); its first child is i + 1.
  std::vector<uint8_t> byte;
  std::vector<uint32_t> subtree;
  std::vector<uint32_t> tok_begin, tok_end;  // ids[tok_begin, tok_end) end at this node
  std::vector<int32_t> ids;
  size_t max_len = 0;

  void build(const std::vector<std::string>& bytes, std::vector<int32_t> order) {
    std::sort(order.begin(), order.end(), [&](int32_t a, int32_t b) {
      return bytes[size_t(a)] < bytes[size_t(b)] || (bytes[size_t(a)] == bytes[size_t(b)] && a < b);
    });
    auto new_node = [&](uint8_t b) {
      byte.push_back(b);
      subtree.push_back(0);
      tok_begin.push_back(0);
      tok_end.push_back(0);
      return uint32_t(byte.size() - 1);
    };
    std::vector<uint32_t> path = {new_node(0)};
    std::string_view prev;
    auto pop_to = [&](size_t depth) {
      while (path.size() > depth + 1) {
        subtree[path.back()] = uint32_t(byte.size()) - path.back();
        path.pop_back();
      }
    };
    for (int32_t id : order) {
      std::string_view s = bytes[size_t(id)];
      max_len = std::max(max_len, s.size());
      size_t lcp = 0;
      while (lcp < s.size() && lcp < prev.size() && s[lcp] == prev[lcp]) ++lcp;
      pop_to(lcp);
      for (size_t d = lcp; d < s.size(); ++d) path.push_back(new_node(uint8_t(s[d])));
      uint32_t node = path.back();
      if (tok_end[node] == tok_begin[node]) tok_begin[node] = tok_end[node] = uint32_t(ids.size());
      ids.push_back(id);
      ++tok_end[node];
      prev = s;
    }
    pop_to(0);
    subtree[0] = uint32_t(byte.size());
  }
};

namespace {

enum class SetKind { JsonText, GemmaText, GemmaKey };

bool unicode_space(uint32_t cp) {
  return cp == 0x85 || cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 ||
         cp == 0x202F || cp == 0x205F || cp == 0x3000 || cp == 0xFEFF;
}

// Tokens the neutral state of plain content takes and stays in. Whole UTF-8 characters only, never
// '<' (it could start a control marker) nor kGemmaQuote. Json text: no '"', '\\' or control bytes.
// Gemma keys: ASCII letters, digits, _$@.- and non-ASCII characters but spaces (json_schema.cpp).
bool plain_content(const std::string& s, SetKind kind) {
  for (size_t i = 0; i < s.size();) {
    const uint8_t c = uint8_t(s[i]);
    if (c == '<') return false;
    if (kind == SetKind::JsonText && (c < 0x20 || c == '"' || c == '\\')) return false;
    if (kind == SetKind::GemmaKey && c < 0x80 && !(std::isalnum(c) || c == '_' || c == '$' || c == '@' || c == '.' || c == '-'))
      return false;
    const int n = utf8_sequence_at(s, i);
    if (n <= 0) return false;
    if (kind == SetKind::GemmaKey && n > 1) {
      uint32_t cp = c & (n == 2 ? 0x1F : n == 3 ? 0x0F : 0x07);
      for (int k = 1; k < n; ++k) cp = (cp << 6) | (uint8_t(s[i + size_t(k)]) & 0x3F);
      if (unicode_space(cp)) return false;
    }
    i += size_t(n);
  }
  return true;
}

int64_t count_chars(const std::string& s) {
  int64_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

}  // namespace

ConstraintVocab::ConstraintVocab(const std::vector<std::string>& bytes)
    : n_tokens_(bytes.size()), full_(std::make_unique<Trie>()) {
  std::vector<int32_t> all;
  all.reserve(bytes.size());
  const std::pair<SafeSet*, SetKind> sets[] = {
      {&json_, SetKind::JsonText}, {&gemma_, SetKind::GemmaText}, {&gemma_key_, SetKind::GemmaKey}};
  std::vector<int32_t> rest[3];
  for (const auto& set : sets) set.first->mask.assign(bytes.size(), 0);
  for (size_t id = 0; id < bytes.size(); ++id) {
    const std::string& s = bytes[id];
    if (s.empty()) continue;
    all.push_back(int32_t(id));
    for (int k = 0; k < 3; ++k) {
      SafeSet& set = *sets[k].first;
      if (plain_content(s, sets[k].second)) {
        set.mask[id] = 1;
        set.max_chars = std::max(set.max_chars, count_chars(s));
      } else {
        rest[k].push_back(int32_t(id));
      }
    }
  }
  full_->build(bytes, std::move(all));
  for (int k = 0; k < 3; ++k) {
    sets[k].first->rest = std::make_unique<Trie>();
    sets[k].first->rest->build(bytes, std::move(rest[k]));
  }
}

ConstraintVocab::~ConstraintVocab() = default;

namespace {

struct MaskWalker {
  const Machine& m;
  const ConstraintVocab::Trie& t;
  std::vector<State>& levels;
  uint8_t* mask;

  void walk(uint32_t node, size_t depth) {
    const uint32_t end = node + t.subtree[node];
    for (uint32_t ch = node + 1; ch < end; ch += t.subtree[ch]) {
      State& next = levels[depth + 1];
      next.stacks = levels[depth].stacks;
      if (!m.step(next, t.byte[ch])) continue;
      for (uint32_t k = t.tok_begin[ch]; k < t.tok_end[ch]; ++k) mask[t.ids[k]] = 1;
      if (t.subtree[ch] > 1) walk(ch, depth + 1);
    }
  }
};

}  // namespace

void compute_allowed_mask(const JsonConstraint& constraint, const ConstraintVocab& vocab,
                          const std::vector<int32_t>& end_ids, std::vector<uint8_t>& mask) {
  const JsonConstraint::Impl& impl = *constraint.impl_;
  Machine m(*impl.schema);
  const ConstraintVocab::Trie* trie = vocab.full_.get();
  int64_t room = 0;
  const Machine::Plain plain = m.plain_content(impl.state, &room);
  if (plain != Machine::Plain::None) {
    const ConstraintVocab::SafeSet& safe = plain == Machine::Plain::Key             ? vocab.gemma_key_
                                           : impl.schema->syntax == JsonSyntax::Json ? vocab.json_
                                                                                     : vocab.gemma_;
    if (room >= safe.max_chars) {
      mask = safe.mask;  // a copy: far cheaper than setting the ids one by one
      trie = safe.rest.get();
    }
  }
  if (trie == vocab.full_.get()) mask.assign(vocab.size(), 0);
  thread_local std::vector<State> levels;
  if (levels.size() < trie->max_len + 2) levels.resize(trie->max_len + 2);
  levels[0].stacks = impl.state.stacks;
  MaskWalker w{m, *trie, levels, mask.data()};
  w.walk(0, 0);
  const bool done = m.complete(impl.state);
  for (int32_t id : end_ids)
    if (id >= 0 && size_t(id) < mask.size()) mask[size_t(id)] = done ? 1 : 0;
}

}  // namespace g4
