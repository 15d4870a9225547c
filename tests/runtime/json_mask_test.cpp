// Token masks on the real Gemma 4 vocabulary: the trie walk must allow exactly the tokens whose
// bytes the automaton accepts (checked against a token-by-token scan), and random generation under
// the mask must always end in a document that parses (as JSON, or as Gemma call arguments through
// the output parser) and validates against the schema (an independent validator), with properties
// in the required order.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "runtime/json_constraint.h"
#include "runtime/output_parser.h"
#include "runtime/schema_check.h"
#include "template/value.h"
#include "text/tokenizer.h"

namespace g4 {
namespace {

enum TokenFlags : uint8_t { kCloser = 1, kStructural = 2, kQuote = 4 };

struct Vocab {
  std::unique_ptr<Tokenizer> tok;
  std::vector<std::string> bytes;
  std::unique_ptr<ConstraintVocab> vocab;
  std::vector<uint8_t> flags;  // TokenFlags, for steering random walks toward an end
};

bool has_closer(const std::string& b);

const Vocab& vocab() {
  static const Vocab v = [] {
    Vocab r;
    r.tok = Tokenizer::load_gguf(std::string(G4_SHARED_DIR) + "/fixtures/tokenizer/gemma4-vocab.gguf");
    r.bytes = constraint_token_bytes(*r.tok);
    r.vocab = std::make_unique<ConstraintVocab>(r.bytes);
    r.flags.assign(r.bytes.size(), 0);
    for (size_t id = 0; id < r.bytes.size(); ++id) {
      const std::string& b = r.bytes[id];
      if (!has_closer(b)) continue;
      r.flags[id] = kCloser | (b.size() == 1 ? kStructural : 0) |
                    (b == "\"" || (b.size() == 1 && uint8_t(b[0]) == kGemmaQuote) ? kQuote : 0);
    }
    return r;
  }();
  return v;
}

const char* kPerson = R"({"type":"object","properties":{
  "name":{"type":"string","minLength":1,"maxLength":12},
  "age":{"type":"integer","minimum":0,"maximum":150},
  "id":{"type":"string","format":"uuid"},
  "tags":{"type":"array","items":{"enum":["a","b","c"]},"maxItems":3},
  "score":{"type":"number","exclusiveMinimum":0,"maximum":1}},
  "required":["name","age","score"],"additionalProperties":false})";

const char* kEvent = R"({"type":"object","properties":{
  "date":{"type":"string","format":"date"},
  "start":{"type":"string","format":"time"},
  "id":{"type":"string","format":"uuid"},
  "people":{"type":"array","minItems":1,"maxItems":3,"items":{"type":"object","properties":{
     "Name":{"type":"string","pattern":"^[A-Z][a-z]*$","maxLength":8},"vip":{"type":"boolean"}},"required":["Name"]}}},
  "required":["date","people"]})";

const char* kTree = R"({"$defs":{"t":{"type":"object","properties":{"v":{"type":"integer"},
  "kids":{"type":"array","items":{"$ref":"#/$defs/t"},"maxItems":2}},"required":["v"],"additionalProperties":false}},
  "$ref":"#/$defs/t"})";

const char* kMix = R"({"type":"object","properties":{"x":{"anyOf":[
  {"type":"integer","minimum":-5,"maximum":5},{"type":"string","maxLength":3},{"type":"null"},
  {"type":"array","items":{"type":"number","minimum":0,"maximum":1},"maxItems":2}]},
  "y":{"allOf":[{"$ref":"#/$defs/Base"}],"description":"pydantic wrapper"},
  "z":{"type":["string","null"],"pattern":"^[0-9]{2,4}$"}},"required":["x","y","z"],
  "$defs":{"Base":{"type":"object","properties":{"k":{"const":"kind"},"n":{"type":"integer","nullable":true}},"required":["k"]}}})";

const char* kOpen = R"({"type":"object","properties":{"id":{"type":"integer"}},"required":["id"],
  "additionalProperties":{"type":"string","maxLength":4}})";

std::string to_text(const std::string& bytes) {
  std::string out;
  for (char c : bytes) {
    if (uint8_t(c) == kGemmaQuote) out += "<|\"|>";
    else out += c;
  }
  return out;
}

bool has_closer(const std::string& b) {
  for (char c : b)
    if (c == '"' || c == '}' || c == ']' || c == ',' || c == ':' || uint8_t(c) == kGemmaQuote) return true;
  return false;
}

// The mask against token-by-token checks: every token with a special byte, and a sample of the rest.
void check_mask(const JsonConstraint& c, const std::vector<uint8_t>& mask, const std::vector<int32_t>& end_ids,
                const std::string& where) {
  const auto& v = vocab();
  size_t checked = 0;
  for (size_t id = 0; id < v.bytes.size(); ++id) {
    const std::string& b = v.bytes[id];
    const bool end = std::find(end_ids.begin(), end_ids.end(), int32_t(id)) != end_ids.end();
    bool special = end || b.empty();
    for (char ch : b) special = special || !(std::isalnum(uint8_t(ch)) || ch == ' ');
    if (!special && id % 13 != 0) continue;
    const bool expect = end ? c.is_complete() : !b.empty() && c.can_accept(b);
    ++checked;
    if (bool(mask[id]) != expect) {
      ADD_FAILURE() << where << ": token " << id << " \"" << b << "\" mask " << int(mask[id]) << " but the automaton says "
                    << expect;
      return;
    }
  }
  EXPECT_GT(checked, 20000u);
}

// Generates with random allowed tokens (favouring ones that close something) until complete.
std::string generate(JsonConstraint& c, std::mt19937& rng, int checks, const std::string& where) {
  const auto& v = vocab();
  std::vector<uint8_t> mask;
  std::string out;
  const std::vector<int32_t> end_ids = {1};  // <eos>
  for (int step = 0; step < 600; ++step) {
    compute_allowed_mask(c, *v.vocab, end_ids, mask);
    if (step % 7 == 0 && checks-- > 0) check_mask(c, mask, end_ids, where + " after \"" + to_text(out) + "\"");
    if (mask[1] && (c.must_end() || rng() % 3 == 0)) return out;
    std::vector<int32_t> allowed, closers, structural, quotes;
    for (size_t id = 0; id < mask.size(); ++id) {
      if (!mask[id] || id == 1) continue;
      allowed.push_back(int32_t(id));
      const uint8_t f = v.flags[id];
      if (f & kCloser) closers.push_back(int32_t(id));
      if (f & kStructural) structural.push_back(int32_t(id));
      if (f & kQuote) quotes.push_back(int32_t(id));  // ending the string at hand ends walks soonest
    }
    if (allowed.empty()) {
      ADD_FAILURE() << where << ": no token allowed and not complete after \"" << to_text(out) << "\"";
      return out;
    }
    const uint32_t r = rng() % 20;
    const auto& pool = !quotes.empty() && r < 7          ? quotes
                       : !structural.empty() && r < 11  ? structural
                       : !closers.empty() && r < 14     ? closers
                                                        : allowed;
    const int32_t tok = pool[rng() % pool.size()];
    EXPECT_TRUE(c.accept_bytes(v.bytes[size_t(tok)])) << where;
    out += v.bytes[size_t(tok)];
  }
  ADD_FAILURE() << where << ": did not finish: \"" << to_text(out) << "\"";
  return out;
}

// Declared properties appear in `order` (a subsequence), checked recursively where the schema names them.
void check_order(const Json& value, const Json& schema, const Json& root, bool sorted, const std::string& where) {
  const Json* s = &schema;
  for (int hops = 0; hops < 8 && s->contains("$ref"); ++hops)
    s = &root.at(Json::json_pointer((*s)["$ref"].get<std::string>().substr(1)));
  if (value.is_array() && s->contains("items")) {
    for (const Json& x : value) check_order(x, (*s)["items"], root, sorted, where);
  }
  if (!value.is_object() || !s->contains("properties")) return;
  std::vector<std::string> declared;
  for (auto it = (*s)["properties"].begin(); it != (*s)["properties"].end(); ++it) declared.push_back(it.key());
  if (sorted)
    std::stable_sort(declared.begin(), declared.end(),
                     [](const std::string& a, const std::string& b) { return tpl::str_lower(a) < tpl::str_lower(b); });
  size_t last = 0;
  bool first = true;
  for (auto it = value.begin(); it != value.end(); ++it) {
    auto p = std::find(declared.begin(), declared.end(), it.key());
    if (p == declared.end()) continue;
    size_t idx = size_t(p - declared.begin());
    EXPECT_TRUE(first || idx > last) << where << ": \"" << it.key() << "\" out of order in " << value.dump();
    first = false;
    last = idx;
    check_order(it.value(), (*s)["properties"][it.key()], root, sorted, where);
  }
}

TEST(JsonMask, MaskAtChosenStates) {
  // Each state exercises one path of the mask: plain content in bulk (Json text, Json keys, Gemma
  // text, Gemma keys at their start and inside), near a maxLength, pattern/format content, bounded
  // numbers, literals, key choice, the tool-name choice.
  struct Case {
    const char* schema;
    JsonSyntax syntax;
    const char* prefix;
  };
  const Case cases[] = {
      {kPerson, JsonSyntax::Json, R"({"name":"Ad)"},
      {kPerson, JsonSyntax::Json, R"({"name":"abcdefghij)"},  // two characters left
      {kPerson, JsonSyntax::Json, R"({"name":"A","age":1)"},
      {kPerson, JsonSyntax::Json, R"({"name":"A","age":150,"id":"123e4567-e)"},
      {kPerson, JsonSyntax::Json, R"({"name":"A","age":15,"score":0.)"},
      {kPerson, JsonSyntax::Json, R"({"name":"A","age":15,"tags":[")"},
      {kOpen, JsonSyntax::Json, R"({"id":1,")"},
      {kOpen, JsonSyntax::Json, R"({"id":1,"ke)"},
      {kOpen, JsonSyntax::Json, R"({"id":1,"key":"ab)"},
      {kEvent, JsonSyntax::Json, R"({"date":"2024-02-2)"},
      {kEvent, JsonSyntax::Json, R"({"date":"2024-02-28","people":[{"Name":"Bo",")"},
      {kMix, JsonSyntax::Json, R"({"x":)"},
      {kMix, JsonSyntax::Json, R"({"x":-)"},
      {kEvent, JsonSyntax::Gemma, "{date:<|\"|>2024-02-28<|\"|>,people:[{Name:<|\"|>Bo<|\"|>,"},
      {kEvent, JsonSyntax::Gemma, "{date:<|\"|>2024-02-28<|\"|>,people:[{Name:<|\"|>Bo<|\"|>,fo"},
      {kEvent, JsonSyntax::Gemma, "{date:<|\"|>2024-02-28<|\"|>,people:[{"},
      {kPerson, JsonSyntax::Gemma, "{age:3,name:<|\"|>Ada "},
      {kPerson, JsonSyntax::Gemma, "{age:3,name:<|\"|>Ada<|"},
      {kMix, JsonSyntax::Gemma, "{x:<|\"|>ab"},
  };
  for (const Case& c : cases) {
    JsonConstraintOptions o;
    o.syntax = c.syntax;
    auto jc = JsonConstraint::from_schema_text(c.schema, o);
    const std::string prefix = c.syntax == JsonSyntax::Gemma ? gemma_to_constraint_bytes(c.prefix) : c.prefix;
    ASSERT_TRUE(jc->accept_bytes(prefix)) << c.prefix;
    std::vector<uint8_t> mask;
    compute_allowed_mask(*jc, *vocab().vocab, {1}, mask);
    check_mask(*jc, mask, {1}, c.prefix);
  }
  std::vector<ToolSchema> tools = {{"lookup", Json::parse(kPerson)}, {"look", Json::parse(kOpen)}};
  JsonConstraintOptions o;
  o.syntax = JsonSyntax::Gemma;
  for (const char* prefix : {"", "call:", "call:look", "call:look{"}) {
    auto jc = JsonConstraint::tool_call(tools, o);
    ASSERT_TRUE(jc->accept_bytes(prefix)) << prefix;
    std::vector<uint8_t> mask;
    compute_allowed_mask(*jc, *vocab().vocab, {1}, mask);
    check_mask(*jc, mask, {1}, prefix);
  }
}

TEST(JsonMask, TrieMaskMatchesTheAutomatonAndOutputValidates) {
  std::mt19937 rng(1234);
  for (const char* text : {kPerson, kEvent, kTree, kMix, kOpen}) {
    const Json schema = Json::parse(text);
    testing::SchemaCheck checker(schema);
    for (int walk = 0; walk < 4; ++walk) {
      auto c = JsonConstraint::from_schema(schema);
      const std::string where = schema.dump().substr(0, 60) + " walk " + std::to_string(walk);
      const std::string out = generate(*c, rng, walk == 0 ? 3 : 0, where);
      Json value = Json::parse(out, nullptr, false);
      ASSERT_FALSE(value.is_discarded()) << where << ": not JSON: " << out;
      EXPECT_EQ(checker.check(value), "") << where << ": " << out;
      check_order(value, schema, schema, false, where);
    }
  }
}

TEST(JsonMask, AnyObjectAndGemmaArguments) {
  std::mt19937 rng(99);
  for (int walk = 0; walk < 4; ++walk) {
    auto c = JsonConstraint::any_object();
    const std::string out = generate(*c, rng, walk == 0 ? 3 : 0, "json_object");
    Json value = Json::parse(out, nullptr, false);
    EXPECT_TRUE(value.is_object()) << out;
  }
  JsonConstraintOptions gemma;
  gemma.syntax = JsonSyntax::Gemma;
  for (const char* text : {kPerson, kEvent, kMix, kOpen}) {
    const Json schema = Json::parse(text);
    testing::SchemaCheck checker(schema);
    for (int walk = 0; walk < 3; ++walk) {
      auto c = JsonConstraint::from_schema(schema, gemma);
      const std::string where = "gemma " + schema.dump().substr(0, 60) + " walk " + std::to_string(walk);
      const std::string out = to_text(generate(*c, rng, walk == 0 ? 3 : 0, where));
      Json value;
      try {
        value = parse_gemma_arguments(out);
      } catch (const Error& e) {
        ADD_FAILURE() << where << ": " << e.what();
        continue;
      }
      EXPECT_EQ(checker.check(value), "") << where << ": " << out;
      check_order(value, schema, schema, true, where);
    }
  }
}

TEST(JsonMask, ForcedToolCallsParseAsToolCalls) {
  std::mt19937 rng(5);
  std::vector<ToolSchema> tools = {{"lookup", Json::parse(kPerson)},
                                   {"schedule", Json::parse(kEvent)},
                                   {"ping", Json::parse(R"({"type":"object","properties":{}})")}};
  JsonConstraintOptions o;
  o.syntax = JsonSyntax::Gemma;
  std::set<std::string> seen;
  for (int walk = 0; walk < 8; ++walk) {
    auto c = JsonConstraint::tool_call(tools, o);
    const std::string body = to_text(generate(*c, rng, walk == 0 ? 3 : 0, "tool call"));
    ParsedOutput p = parse_output("<|tool_call>" + body + "<tool_call|><|tool_response>");
    ASSERT_EQ(p.tool_calls.size(), 1u) << body;
    EXPECT_EQ(p.content, "") << body;
    const ToolCall& tc = p.tool_calls[0];
    auto t = std::find_if(tools.begin(), tools.end(), [&](const ToolSchema& s) { return s.name == tc.name; });
    ASSERT_NE(t, tools.end()) << body;
    Json args = Json::parse(tc.arguments_json, nullptr, false);
    ASSERT_TRUE(args.is_object()) << body;
    EXPECT_EQ(testing::SchemaCheck(t->parameters).check(args), "") << body;
    seen.insert(tc.name);
  }
  EXPECT_GE(seen.size(), 2u);
}

}  // namespace
}  // namespace g4
