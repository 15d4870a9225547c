#include "runtime/output_parser.h"

#include <gtest/gtest.h>

#include <random>

#include "core/error.h"
#include "core/mapped_file.h"

namespace g4 {
namespace {

const Json& chat_cases() {
  static const Json j = Json::parse(read_text_file(std::string(G4_SHARED_DIR) + "/fixtures/chat/gemma4-cases.json"));
  return j["cases"];
}

const Json& chat_case(const std::string& name) {
  for (const Json& c : chat_cases())
    if (c["name"] == name) return c;
  throw std::runtime_error("no case " + name);
}

// Streams `text` in the given chunk sizes (cycled) and collects the result, checking that no
// delta ever carries a marker or a piece of one.
ParsedOutput stream(std::string_view text, const std::vector<size_t>& chunks, bool start_in_reasoning = false) {
  OutputParser::Options o;
  o.start_in_reasoning = start_in_reasoning;
  OutputParser p(o);
  ParsedOutput out;
  auto take = [&](OutputParser::Delta d) {
    out.reasoning += d.reasoning;
    out.content += d.content;
    for (auto& tc : d.tool_calls) {
      EXPECT_EQ(tc.index, int(out.tool_calls.size()));
      out.tool_calls.push_back({tc.name, tc.arguments_json});
    }
  };
  size_t i = 0, k = 0;
  while (i < text.size()) {
    size_t n = std::min(chunks[k++ % chunks.size()], text.size() - i);
    take(p.push(text.substr(i, n)));
    i += n;
  }
  take(p.finish());
  return out;
}

void expect_same(const ParsedOutput& a, const ParsedOutput& b) {
  EXPECT_EQ(a.reasoning, b.reasoning);
  EXPECT_EQ(a.content, b.content);
  ASSERT_EQ(a.tool_calls.size(), b.tool_calls.size());
  for (size_t i = 0; i < a.tool_calls.size(); ++i) {
    EXPECT_EQ(a.tool_calls[i].name, b.tool_calls[i].name);
    EXPECT_EQ(a.tool_calls[i].arguments_json, b.tool_calls[i].arguments_json);
  }
}

// The model's side of a rendered conversation: the text after the last "<|turn>model\n".
std::string model_side(const std::string& rendered) {
  size_t p = rendered.rfind("<|turn>model\n");
  return rendered.substr(p + std::string("<|turn>model\n").size());
}

TEST(OutputParser, PlainContent) {
  auto r = parse_output("Hello! How can I help?");
  EXPECT_EQ(r.content, "Hello! How can I help?");
  EXPECT_EQ(r.reasoning, "");
  EXPECT_TRUE(r.tool_calls.empty());
}

TEST(OutputParser, ThoughtThenContent) {
  auto r = parse_output("<|channel>thought\nuser greets<channel|>Hello! How can I help?");
  EXPECT_EQ(r.reasoning, "user greets");
  EXPECT_EQ(r.content, "Hello! How can I help?");
  auto r2 = parse_output("<|channel>thought\nLet me think.\nStep 2.\n<channel|>4<turn|>ignored");
  EXPECT_EQ(r2.reasoning, "Let me think.\nStep 2.");
  EXPECT_EQ(r2.content, "4");
}

TEST(OutputParser, FixtureToolCallRoundTrip) {
  // Every assistant tool call in the fixtures: the template's rendering parses back to the
  // arguments it was rendered from.
  int checked = 0;
  for (const Json& c : chat_cases()) {
    const std::string expected = c["expected"];
    for (const Json& m : c["context"]["messages"]) {
      if (!m.contains("tool_calls")) continue;
      for (const Json& tc : m["tool_calls"]) {
        const std::string name = tc["function"]["name"];
        const Json& args = tc["function"]["arguments"];
        std::string rendered = format_tool_call_gemma(name, args);
        ASSERT_NE(expected.find(rendered), std::string::npos) << rendered;
        auto r = parse_output(rendered + "<|tool_response>");
        ASSERT_EQ(r.tool_calls.size(), 1u);
        EXPECT_EQ(r.tool_calls[0].name, name);
        EXPECT_EQ(Json::parse(r.tool_calls[0].arguments_json), args);
        EXPECT_EQ(r.content, "");
        ++checked;
      }
    }
  }
  EXPECT_GE(checked, 2);
}

TEST(OutputParser, FixtureModelSide) {
  const Json& c = chat_case("tool_call_and_response");
  std::string side = model_side(c["expected"]);
  // What the model generated: up to and including the stop token <|tool_response>.
  side = side.substr(0, side.find("<|tool_response>") + std::string("<|tool_response>").size());
  auto r = parse_output(side);
  ASSERT_EQ(r.tool_calls.size(), 1u);
  EXPECT_EQ(r.tool_calls[0].name, "get_current_temperature");
  EXPECT_EQ(Json::parse(r.tool_calls[0].arguments_json), Json::parse(R"({"location":"London","unit":"celsius"})"));
  EXPECT_EQ(r.content, "");
  EXPECT_EQ(r.reasoning, "");

  // history_with_thought: the assistant message as the model wrote it
  const Json& h = chat_case("history_with_thought");
  std::string assistant = h["context"]["messages"][1]["content"];
  auto r2 = parse_output(assistant);
  EXPECT_EQ(r2.reasoning, "user greets");
  EXPECT_EQ(r2.content, "Hello! How can I help?");
  // and strip_thoughts gives exactly what the template put into the history
  std::string stripped = strip_thoughts(assistant);
  EXPECT_NE(std::string(h["expected"]).find("<|turn>model\n" + stripped + "<turn|>"), std::string::npos);
}

TEST(OutputParser, ReasoningAndToolCallFromConverterTest) {
  // transformers' test_response_template_gemma4.py output
  auto r = parse_output("<|channel>thought\nwe should multiply.\n<channel|><|tool_call>call:multiply{a:3,b:4}<tool_call|><|tool_response>");
  EXPECT_EQ(r.reasoning, "we should multiply.");
  ASSERT_EQ(r.tool_calls.size(), 1u);
  EXPECT_EQ(r.tool_calls[0].name, "multiply");
  EXPECT_EQ(r.tool_calls[0].arguments_json, R"({"a":3,"b":4})");
  EXPECT_EQ(r.content, "");
}

TEST(OutputParser, NestedArguments) {
  const std::string text =
      "Sure.<|tool_call>call:search{filters:{tags:[<|\"|>a<|\"|>,<|\"|>b, c<|\"|>],max:2.5,exact:false,"
      "none:null,pyNone:None},query:<|\"|>he said \"hi\" {not json} <tool_call|> inside\n<|\"|>,"
      "<|\"|>quoted key<|\"|>:1,n:-3e2,word:hello}<tool_call|>"
      "<|tool_call>call:noargs{}<tool_call|>";
  auto r = parse_output(text);
  EXPECT_EQ(r.content, "Sure.");
  ASSERT_EQ(r.tool_calls.size(), 2u);
  EXPECT_EQ(r.tool_calls[0].name, "search");
  Json want = {{"filters", {{"tags", {"a", "b, c"}}, {"max", 2.5}, {"exact", false}, {"none", nullptr}, {"pyNone", nullptr}}},
               {"query", "he said \"hi\" {not json} <tool_call|> inside\n"},
               {"quoted key", 1},
               {"n", -300.0},
               {"word", "hello"}};
  EXPECT_EQ(Json::parse(r.tool_calls[0].arguments_json), want);
  EXPECT_EQ(r.tool_calls[1].name, "noargs");
  EXPECT_EQ(r.tool_calls[1].arguments_json, "{}");
}

TEST(OutputParser, StreamingMatchesOneShot) {
  const std::vector<std::string> texts = {
      "Hello! How can I help?",
      "<|channel>thought\nuser greets<channel|>Hello! How can I help?",
      "<|channel>thought\nwe should multiply.\n<channel|><|tool_call>call:multiply{a:3,b:4}<tool_call|><|tool_response>",
      "Text with < and <| and <tool but no marker, and a lone \n at the end\n",
      "<|channel>thought\nhmm <|\"|> < <channel <chan\n\n<channel|>\n\nAnswer <b>bold</b><turn|>",
      "a<|tool_call>call:f{s:<|\"|><tool_call|><|\"|>,t:[1,{u:<|\"|>x<|\"|>}]}<tool_call|>b<|tool_call>call:g{}<tool_call|>",
      "<|channel>other channel text<channel|>after",
      "x<|tool_call>call:cut{a:<|\"|>unterminated",
      "<|tool_call>call:ok{a:1}",
      "<|channel>thought\nnever closed",
  };
  std::mt19937 rng(3);
  for (const std::string& t : texts) {
    ParsedOutput whole = parse_output(t);
    expect_same(stream(t, {1}), whole);
    expect_same(stream(t, {2, 3}), whole);
    for (int k = 0; k < 20; ++k) {
      std::vector<size_t> chunks;
      for (int j = 0; j < 8; ++j) chunks.push_back(1 + rng() % 7);
      expect_same(stream(t, chunks), whole);
    }
    // no marker text in content or reasoning except for a cut-off tool call's raw text
    if (t.find("unterminated") == std::string::npos) {
      for (const char* m : {"<|channel>", "<channel|>", "<|tool_call>", "<tool_call|>", "<turn|>"}) {
        EXPECT_EQ(whole.content.find(m), std::string::npos) << t;
        EXPECT_EQ(whole.reasoning.find(m), std::string::npos) << t;
      }
    }
  }
  auto a = parse_output(texts[3]);
  EXPECT_EQ(a.content, texts[3]);
  auto b = parse_output(texts[4]);
  EXPECT_EQ(b.reasoning, "hmm <|\"|> < <channel <chan\n");
  EXPECT_EQ(b.content, "\n\nAnswer <b>bold</b>");
  auto c = parse_output(texts[5]);
  ASSERT_EQ(c.tool_calls.size(), 2u);
  EXPECT_EQ(Json::parse(c.tool_calls[0].arguments_json), Json::parse(R"({"s":"<tool_call|>","t":[1,{"u":"x"}]})"));
  EXPECT_EQ(c.content, "ab");
  EXPECT_EQ(parse_output(texts[6]).reasoning, "other channel text");
  auto cut = parse_output(texts[7]);
  EXPECT_TRUE(cut.tool_calls.empty());
  EXPECT_EQ(cut.content, "x<|tool_call>call:cut{a:<|\"|>unterminated");
  auto ok = parse_output(texts[8]);  // complete arguments, closing marker missing
  ASSERT_EQ(ok.tool_calls.size(), 1u);
  EXPECT_EQ(ok.tool_calls[0].arguments_json, R"({"a":1})");
  EXPECT_EQ(parse_output(texts[9]).reasoning, "never closed");
}

TEST(OutputParser, RandomMarkerSoupStreamsLikeOneShot) {
  const std::vector<std::string> parts = {
      "<|channel>", "<channel|>", "thought\n", "<|tool_call>", "<tool_call|>", "call:f", "{", "}", "a:", "1",
      ",", "<|\"|>", "x y", "\n", "<", "|", ">", "<|", "|>", "<turn|>", "<|tool_response>", "[", "]", "é", "text"};
  std::mt19937 rng(11);
  for (int t = 0; t < 400; ++t) {
    std::string text;
    int n = 1 + rng() % 25;
    for (int i = 0; i < n; ++i) text += parts[rng() % parts.size()];
    ParsedOutput whole = parse_output(text);
    expect_same(stream(text, {1}), whole);
    expect_same(stream(text, {1 + rng() % 5, 1 + rng() % 9}), whole);
    ParsedOutput r = parse_output(text, true);
    expect_same(stream(text, {3}, true), r);
  }
}

TEST(OutputParser, NeverEmitsPartialMarkers) {
  OutputParser p;
  auto d1 = p.push("Hello <|tool");
  EXPECT_EQ(d1.content, "Hello ");
  auto d2 = p.push("_call>call:f{}<tool_ca");
  EXPECT_TRUE(d2.empty());
  auto d3 = p.push("ll|>Bye <");
  ASSERT_EQ(d3.tool_calls.size(), 1u);
  EXPECT_EQ(d3.tool_calls[0].name, "f");
  EXPECT_EQ(d3.content, "Bye ");
  auto d4 = p.push("3");
  EXPECT_EQ(d4.content, "<3");
  auto d5 = p.finish();
  EXPECT_TRUE(d5.empty());

  OutputParser q;
  EXPECT_EQ(q.push("<|channel>tho").reasoning, "");
  EXPECT_EQ(q.push("ught\nabc\n").reasoning, "abc");  // the "\n" may precede <channel|>
  EXPECT_EQ(q.push("\n<chan").reasoning, "\n");
  auto e = q.push("nel|>Done");
  EXPECT_EQ(e.reasoning, "");
  EXPECT_EQ(e.content, "Done");
}

TEST(OutputParser, StartInReasoning) {
  auto r = parse_output("the user wants X\n<channel|>Here is X", true);
  EXPECT_EQ(r.reasoning, "the user wants X");
  EXPECT_EQ(r.content, "Here is X");
}

TEST(OutputParser, EndMarkersStopParsing) {
  OutputParser p;
  auto d = p.push("answer<turn|>junk");
  EXPECT_EQ(d.content, "answer");
  EXPECT_TRUE(p.ended());
  EXPECT_TRUE(p.push("more").empty());
}

TEST(OutputParser, GemmaArgumentsErrors) {
  EXPECT_THROW(parse_gemma_arguments("{a:<|\"|>x}"), Error);
  EXPECT_THROW(parse_gemma_arguments("{a:1"), Error);
  EXPECT_THROW(parse_gemma_arguments("[1]"), Error);
  EXPECT_THROW(parse_gemma_arguments("{a:1}}"), Error);
  EXPECT_EQ(parse_gemma_arguments(" { a : 1 , b : [ ] , } "), Json::parse(R"({"a":1,"b":[]})"));
  EXPECT_EQ(parse_gemma_arguments("{\"a\":\"x\\ny\"}"), Json::parse(R"({"a":"x\ny"})"));
}

TEST(OutputParser, FormatArgumentsRoundTrip) {
  const std::vector<std::string> docs = {
      R"({})",
      R"({"location":"London","unit":"celsius"})",
      R"({"a":1,"b":-2.5,"c":true,"d":false,"e":null,"f":[1,"two",[3]],"g":{"h":{"i":"j k"}}})",
      R"({"text":"quotes \" and \\ and\nnewlines, {braces} [brackets]: colons"})",
      R"({"unicode":"été 😀","big":12345678901234,"small":1e-7})",
  };
  for (const std::string& s : docs) {
    Json j = Json::parse(s);
    std::string g = format_tool_arguments_gemma(j);
    // Keys come back sorted (the template's order); compare as unordered JSON objects.
    EXPECT_EQ(nlohmann::json::parse(parse_gemma_arguments(g).dump()), nlohmann::json::parse(s)) << g;
    auto r = parse_output(format_tool_call_gemma("fn", j));
    ASSERT_EQ(r.tool_calls.size(), 1u);
    EXPECT_EQ(nlohmann::json::parse(r.tool_calls[0].arguments_json), nlohmann::json::parse(s));
  }
  EXPECT_EQ(format_tool_arguments_gemma(Json::parse(R"({"unit":"celsius","location":"London"})")),
            "{location:<|\"|>London<|\"|>,unit:<|\"|>celsius<|\"|>}");
  // The template's dictsort ignores case: "a" before "B" (a case-sensitive sort would put "B" first).
  EXPECT_EQ(format_tool_arguments_gemma(Json::parse(R"({"B":2,"a":1})")), "{a:1,B:2}");
  EXPECT_EQ(format_tool_call_gemma("f", Json::parse(R"({"temperature":15,"weather":"sunny"})")),
            "<|tool_call>call:f{temperature:15,weather:<|\"|>sunny<|\"|>}<tool_call|>");
  EXPECT_THROW(format_tool_call_gemma("f", Json::array()), Error);
}

TEST(OutputParser, StripThoughts) {
  EXPECT_EQ(strip_thoughts("<|channel>thought\nuser greets<channel|>Hello! How can I help?"), "Hello! How can I help?");
  EXPECT_EQ(strip_thoughts("  plain  \n"), "plain");
  EXPECT_EQ(strip_thoughts("a<|channel>x<channel|>b<|channel>y<channel|>c"), "abc");
  EXPECT_EQ(strip_thoughts("a<|channel>unclosed"), "a");  // as the template: dropped up to the end
  EXPECT_EQ(strip_thoughts("a<channel|>b"), "ab");
  EXPECT_EQ(strip_thoughts("<|channel>thought\n<channel|>"), "");
}

}  // namespace
}  // namespace g4
