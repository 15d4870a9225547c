// libFuzzer target: the JSON-schema constraint compiler and its automaton. Input: a schema (JSON
// text), a NUL byte, one option byte (syntax, whitespace, depth), then bytes to drive the automaton.
// Compiling must give a constraint or one g4::Error; driving must never reach a state from which no
// byte and no end is possible; a greedy completion that ends must be a document that parses (JSON,
// or Gemma call arguments) and is valid for the compiled schema and, where it can judge (no oneOf,
// which is generated as anyOf), for the independent validator of the tests; the trie mask over a small
// vocabulary must equal a token-by-token check.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/json.h"
#include "runtime/json_constraint.h"
#include "runtime/json_schema.h"
#include "runtime/output_parser.h"
#include "../tests/runtime/schema_check.h"

namespace {

const std::vector<std::string>& tokens() {
  static const std::vector<std::string> t = [] {
    std::vector<std::string> v;
    for (int b = 0; b < 256; ++b) v.push_back(std::string(1, char(b)));
    for (const char* s : {"\"", "\":", "\",", "{\"", "\"}", "true", "false", "null", "12", "-1", "0.5", "e+", "\\u00",
                          "\\n", "<|", "<|channel>", "|>", "abc", "\xC3\xA9", "\xE2\x82", "\xFF}", ":\xFF", "call:",
                          "get", "  ", "[]", "{}", "\"a\"", "a:", "2024-", "T12:", "@x.", "\xF0\x9F\x98\x80"})
      v.push_back(s);
    v.push_back(std::string(1, char(g4::kGemmaQuote)) + "x");
    return v;
  }();
  return t;
}

const g4::ConstraintVocab& vocab() {
  static const g4::ConstraintVocab v(tokens());
  return v;
}

void check_mask(const g4::JsonConstraint& c) {
  std::vector<uint8_t> mask;
  const std::vector<int32_t> end = {int32_t(tokens().size())};  // an id past the vocabulary: ignored
  g4::compute_allowed_mask(c, vocab(), end, mask);
  for (size_t id = 0; id < tokens().size(); ++id)
    if (bool(mask[id]) != c.can_accept(tokens()[id])) std::abort();
}

std::string to_text(const std::string& bytes) {
  std::string out;
  for (char c : bytes) {
    if (uint8_t(c) == g4::kGemmaQuote) out += "<|\"|>";
    else out += c;
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string in(reinterpret_cast<const char*>(data), size);
  const size_t split = in.find('\0');
  const std::string schema_text = in.substr(0, split);
  std::string drive = split == std::string::npos ? std::string() : in.substr(split + 1);
  g4::JsonConstraintOptions o;
  if (!drive.empty()) {
    const uint8_t f = uint8_t(drive[0]);
    drive.erase(0, 1);
    o.syntax = (f & 1) ? g4::JsonSyntax::Gemma : g4::JsonSyntax::Json;
    o.max_whitespace = (f >> 1) & 3;
    o.max_depth = 1 + ((f >> 3) & 7);
  }
  g4::Json schema;
  std::unique_ptr<g4::JsonConstraint> c;
  std::shared_ptr<g4::jsonc::Schema> ir;
  try {
    schema = g4::parse_json(schema_text, "fuzz");
    c = g4::JsonConstraint::from_schema(schema, o);
    ir = g4::jsonc::compile_schema(schema, o);
  } catch (const g4::Error&) {
    return 0;
  }
  auto step = [&](char ch, std::string& text) {
    if (!c->accept_bytes(std::string(1, ch))) return false;
    text += ch;
    return true;
  };
  auto alive = [&] {
    if (c->is_complete()) return true;
    for (int b = 0; b < 256; ++b)
      if (c->can_accept(std::string(1, char(b)))) return true;
    return false;
  };
  std::string text;
  for (size_t i = 0; i < drive.size() && i < 256; ++i)
    if (step(drive[i], text) && !alive()) std::abort();  // a dead end
  check_mask(*c);
  // complete greedily, closing things first
  static const std::string prefer = std::string("\"") + char(g4::kGemmaQuote) + "}]0,1a:";
  for (int n = 0; n < 400 && !c->is_complete(); ++n) {
    bool moved = false;
    for (char ch : prefer)
      if ((moved = step(ch, text))) break;
    for (int b = 0; b < 256 && !moved; ++b) moved = step(char(b), text);
    if (!moved) std::abort();  // not complete and nothing possible
  }
  if (!c->is_complete()) return 0;
  check_mask(*c);
  g4::Json value;
  if (o.syntax == g4::JsonSyntax::Json) {
    value = g4::Json::parse(text, nullptr, false);
    if (value.is_discarded()) std::abort();
  } else {
    if (text.empty() || text[0] != '{') return 0;  // only objects are call arguments
    try {
      value = g4::parse_gemma_arguments(to_text(text));
    } catch (const g4::Error&) {
      std::abort();
    }
  }
  if (!g4::jsonc::validate_value(*ir, ir->root, value)) std::abort();
  if (schema_text.find("oneOf") == std::string::npos) {
    std::string why;
    try {
      why = g4::testing::SchemaCheck(schema).check(value);
    } catch (const std::exception&) {  // a pattern std::regex does not take
    }
    if (!why.empty()) std::abort();
  }
  return 0;
}
