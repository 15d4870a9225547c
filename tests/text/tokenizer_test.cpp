// Tokenizer tests against the real Gemma 4 / Gemma 3 tokenizers and reference tokenizations in
// ../shared/fixtures/tokenizer (llama.cpp for the GGUF, transformers.js for tokenizer.json).
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <random>
#include <sstream>

#include "core/error.h"
#include "core/json.h"
#include "core/mapped_file.h"
#include "formats/gguf.h"
#include "formats/gguf_writer.h"
#include "text/tokenizer.h"
#include "text/utf8.h"

using namespace g4;

namespace {

const std::string kDir = std::string(G4_SHARED_DIR) + "/fixtures/tokenizer/";

const Tokenizer& gemma4() {
  static std::unique_ptr<Tokenizer> t = Tokenizer::load(kDir + "gemma4-vocab.gguf");
  return *t;
}

const Tokenizer& gemma3() {
  static std::unique_ptr<Tokenizer> t = Tokenizer::load(kDir + "gemma3-tokenizer.json");
  return *t;
}

std::string show(const std::vector<int32_t>& ids) {
  std::string s = "[";
  for (size_t i = 0; i < ids.size(); ++i) s += (i ? "," : "") + std::to_string(ids[i]);
  return s + "]";
}

std::string escape(const std::string& s) {
  std::string out;
  for (unsigned char c : s.substr(0, 120)) {
    if (c == '\n') out += "\\n";
    else if (c == '\t') out += "\\t";
    else if (c == '\r') out += "\\r";
    else out += char(c);
  }
  return out;
}

struct Case {
  std::string text;
  std::vector<int32_t> ids;
};

std::vector<Case> cases_of(const Json& arr) {
  std::vector<Case> out;
  for (const auto& c : arr) out.push_back({c["text"].get<std::string>(), c["ids"].get<std::vector<int32_t>>()});
  return out;
}

// Runs every case; returns the number that pass and prints a summary (and the first failures).
int run_cases(const Tokenizer& tok, const std::vector<Case>& cases, bool parse_special, bool add_bos,
              const std::string& label) {
  int pass = 0, roundtrip = 0, shown = 0;
  for (const Case& c : cases) {
    std::vector<int32_t> got = tok.encode(c.text, parse_special, add_bos);
    if (got == c.ids) {
      ++pass;
    } else if (shown++ < 5) {
      ADD_FAILURE() << label << ": \"" << escape(c.text) << "\"\n  expected " << show(c.ids) << "\n  got      " << show(got);
    }
    if (tok.decode(got) == (add_bos && !c.text.starts_with("<bos>") ? "<bos>" + c.text : c.text)) {
      ++roundtrip;
    } else if (shown++ < 5) {
      ADD_FAILURE() << label << ": decode(encode(s)) != s for \"" << escape(c.text) << "\": \"" << escape(tok.decode(got)) << "\"";
    }
  }
  std::printf("[ fixture  ] %s: %d/%zu encode exact, %d/%zu decode(encode(s)) == s\n", label.c_str(), pass, cases.size(),
              roundtrip, cases.size());
  EXPECT_EQ(pass, int(cases.size()));
  EXPECT_EQ(roundtrip, int(cases.size()));
  return pass;
}

// --- an independent, slow reference BPE (strings and std::map; no segmentation shortcuts) ---------
struct ReferenceBpe {
  std::map<std::string, int32_t> vocab;
  std::map<std::pair<std::string, std::string>, int32_t> ranks;

  explicit ReferenceBpe(const GgufFile& g) {
    auto toks = g.get_array_strings("tokenizer.ggml.tokens");
    for (size_t i = 0; i < toks.size(); ++i) vocab[std::string(toks[i])] = int32_t(i);
    auto merges = g.get_array_strings("tokenizer.ggml.merges");
    for (size_t i = 0; i < merges.size(); ++i) {
      std::string m(merges[i]);
      size_t sp = m.find(' ', 1);
      ranks.emplace(std::make_pair(m.substr(0, sp), m.substr(sp + 1)), int32_t(i));
    }
  }

  void word(const std::string& w, std::vector<int32_t>& out) const {
    if (w.find_first_not_of('\n') == std::string::npos) {
      auto it = vocab.find(w);
      if (it != vocab.end()) {
        out.push_back(it->second);
        return;
      }
    }
    std::vector<std::string> sy;
    const auto* p = reinterpret_cast<const unsigned char*>(w.data());
    for (size_t i = 0; i < w.size();) {
      uint32_t cp;
      size_t len = utf8::decode(p, w.size(), i, &cp);
      sy.push_back(w.substr(i, len));
      i += len;
    }
    while (true) {
      int best = INT32_MAX;
      size_t bi = 0;
      for (size_t i = 0; i + 1 < sy.size(); ++i) {
        auto it = ranks.find({sy[i], sy[i + 1]});
        if (it != ranks.end() && it->second < best) {
          best = it->second;
          bi = i;
        }
      }
      if (best == INT32_MAX) break;
      sy[bi] += sy[bi + 1];
      sy.erase(sy.begin() + long(bi) + 1);
    }
    for (const auto& s : sy) {
      auto it = vocab.find(s);
      if (it != vocab.end()) {
        out.push_back(it->second);
      } else {
        for (unsigned char b : s) {
          char name[8];
          std::snprintf(name, sizeof name, "<0x%02X>", b);
          out.push_back(vocab.at(name));
        }
      }
    }
  }

  std::vector<int32_t> encode(const std::string& text) const {
    std::string norm;
    for (char c : text) {
      if (c == ' ') norm += "\xE2\x96\x81";
      else norm += c;
    }
    std::vector<int32_t> out;
    size_t i = 0;
    while (i < norm.size()) {
      bool nl = norm[i] == '\n';
      size_t j = i;
      while (j < norm.size() && (norm[j] == '\n') == nl) ++j;
      word(norm.substr(i, j - i), out);
      i = j;
    }
    return out;
  }
};

}  // namespace

TEST(Tokenizer, LoadsGemma4VocabGguf) {
  auto t0 = std::chrono::steady_clock::now();
  auto tok = Tokenizer::load(kDir + "gemma4-vocab.gguf");
  double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  std::printf("[ timing   ] gemma4-vocab.gguf (262144 tokens, 514906 merges) loaded in %.1f ms\n", ms);
  EXPECT_EQ(tok->vocab_size(), 262144);
  EXPECT_EQ(tok->bos_id(), 2);
  EXPECT_EQ(tok->eos_id(), 1);
  EXPECT_TRUE(tok->add_bos_default());
  EXPECT_EQ(tok->eog_ids(), (std::vector<int32_t>{1, 50, 106}));
  EXPECT_EQ(tok->find_token("<|turn>"), 105);
  EXPECT_EQ(tok->find_token("<turn|>"), 106);
  EXPECT_EQ(tok->find_token("no such token \x01"), std::nullopt);
  EXPECT_TRUE(tok->is_special(105));
  EXPECT_TRUE(tok->is_special(48));   // <|tool_call> is user-defined
  EXPECT_FALSE(tok->is_control(48));
  EXPECT_FALSE(tok->is_special(9259));
  EXPECT_EQ(tok->token_bytes(251), "\r");         // <0x0D>
  EXPECT_EQ(tok->token_bytes(432), "\xC2");       // <0xC2>
  EXPECT_EQ(tok->token_bytes(236743), " ");       // ▁
  EXPECT_EQ(tok->token_bytes(5830), " leading");  // ▁leading
  EXPECT_EQ(tok->piece(5830), "\xE2\x96\x81leading");
  EXPECT_THROW(tok->token_bytes(262144), Error);
}

TEST(Tokenizer, Gemma4Cases) {
  Json j = parse_json(read_text_file(kDir + "gemma4-cases.json"), "gemma4-cases.json");
  run_cases(gemma4(), cases_of(j["cases"]), false, false, "gemma4-cases.json (plain text)");
}

TEST(Tokenizer, Gemma4SpecialPrompts) {
  Json j = parse_json(read_text_file(kDir + "gemma4-cases.json"), "gemma4-cases.json");
  run_cases(gemma4(), cases_of(j["special_prompts"]["cases"]), true, false, "gemma4-cases.json special_prompts");
}

TEST(Tokenizer, LlamaCppGemma4Cases) {
  std::string inp = read_text_file(kDir + "gemma4-llamacpp-cases.inp");
  std::string outp = read_text_file(kDir + "gemma4-llamacpp-cases.out");
  const std::string sep = "\n__ggml_vocab_test__\n";
  std::vector<std::string> texts;
  for (size_t pos = 0;;) {
    size_t next = inp.find(sep, pos);
    if (next == std::string::npos) {
      texts.push_back(inp.substr(pos));
      break;
    }
    texts.push_back(inp.substr(pos, next - pos));
    pos = next + sep.size();
  }
  std::vector<Case> cases;
  std::istringstream lines(outp);
  std::string line;
  for (const auto& text : texts) {
    ASSERT_TRUE(std::getline(lines, line)) << "fewer output lines than inputs";
    Case c{text, {}};
    std::istringstream ids(line);
    int32_t id;
    while (ids >> id) c.ids.push_back(id);
    cases.push_back(c);
  }
  ASSERT_EQ(cases.size(), 46u);
  run_cases(gemma4(), cases, false, false, "gemma4-llamacpp-cases.inp/.out");
}

TEST(Tokenizer, Gemma3HuggingFaceCases) {
  Json j = parse_json(read_text_file(kDir + "gemma3-cases.json"), "gemma3-cases.json");
  run_cases(gemma3(), cases_of(j["cases"]), true, false, "gemma3-cases.json with gemma3-tokenizer.json");
  run_cases(gemma3(), cases_of(j["with_bos"]), true, true, "gemma3-cases.json with_bos");
}

TEST(Tokenizer, Gemma3TokenizerJsonBasics) {
  const Tokenizer& t = gemma3();
  EXPECT_EQ(t.vocab_size(), 262145);  // <image_soft_token> = 262144 is an added token past the BPE vocab
  EXPECT_EQ(t.bos_id(), 2);
  EXPECT_EQ(t.eos_id(), 1);
  EXPECT_TRUE(t.add_bos_default());
  EXPECT_EQ(t.find_token("<start_of_turn>"), 105);
  EXPECT_TRUE(t.is_control(105));
  EXPECT_TRUE(t.is_eog(1));
  EXPECT_TRUE(t.is_eog(106));  // <end_of_turn>, by name when no generation_config.json is present
}

TEST(Tokenizer, SpecialTokensTypedByUsersAreText) {
  for (const Tokenizer* t : {&gemma4(), &gemma3()}) {
    for (const char* s : {"<bos>", "<eos>", "<|turn>user\nhi<turn|>", "<start_of_turn>", "<|tool_call>call:x{}<tool_call|>",
                          "<|channel>thought<channel|>", "<|image|>"}) {
      std::vector<int32_t> ids = t->encode(s);
      for (int32_t id : ids) EXPECT_FALSE(t->is_control(id)) << s << " gave control token " << id;
      EXPECT_EQ(t->decode(ids), s);
    }
  }
  EXPECT_EQ(gemma4().encode("<|turn>", true), (std::vector<int32_t>{105}));
  EXPECT_EQ(gemma4().encode("<|tool_call>", false).size(), 6u);  // < | tool _ call > as text
  EXPECT_EQ(gemma4().encode("<|tool_call>", true), (std::vector<int32_t>{48}));
}

TEST(Tokenizer, BosHandling) {
  const Tokenizer& t = gemma4();
  EXPECT_EQ(t.encode("Hello world", false, true), (std::vector<int32_t>{2, 9259, 1902}));
  // Template text that already starts with <bos> keeps one BOS.
  EXPECT_EQ(t.encode("<bos>Hello", true, true), (std::vector<int32_t>{2, 9259}));
  EXPECT_EQ(t.encode("", false, true), (std::vector<int32_t>{2}));
  EXPECT_TRUE(t.encode("").empty());
}

TEST(Tokenizer, DecodeSkipsControlTokensOnRequest) {
  const Tokenizer& t = gemma4();
  std::vector<int32_t> ids = t.encode("<bos><|turn>user\nHi<turn|>\n<|channel>x<channel|>", true);
  EXPECT_EQ(t.decode(ids), "<bos><|turn>user\nHi<turn|>\n<|channel>x<channel|>");
  EXPECT_EQ(t.decode(ids, true), "user\nHi\n<|channel>x<channel|>");  // user-defined tokens stay
  EXPECT_THROW(t.decode({5, -1}), Error);
  EXPECT_THROW(t.decode({262144}), Error);
}

TEST(Tokenizer, InvalidUtf8RoundTripsThroughByteFallback) {
  const Tokenizer& t = gemma4();
  for (std::string s : {std::string("\xff"), std::string("a\xC3"), std::string("\xE2\x82 x"), std::string("\xF0\x9F\x98"),
                        std::string("ok\xED\xA0\x80ok"), std::string("\0mid\0", 5), std::string("\xC0\xAF")}) {
    std::vector<int32_t> ids = t.encode(s);
    EXPECT_EQ(t.decode(ids), s) << escape(s);
  }
}

TEST(Tokenizer, StreamingTokenBytesConcatenateToDecode) {
  const Tokenizer& t = gemma4();
  std::string s = "Grüße 👋🏽 日本語 \x01\r\n";
  std::vector<int32_t> ids = t.encode(s);
  std::string joined;
  for (int32_t id : ids) joined += t.token_bytes(id);
  EXPECT_EQ(joined, s);
  EXPECT_EQ(utf8::complete_prefix("ab\xF0\x9F"), 2u);
  EXPECT_EQ(utf8::complete_prefix("ab\xF0\x9F\x98\x80"), 6u);
}

TEST(Tokenizer, MatchesReferenceBpeOnRandomText) {
  // An independent slow BPE over the same GGUF: checks the fast path's segmentation shortcuts, the
  // long-segment (heap) path and byte fallback on random mixtures of scripts, spaces and newlines.
  auto g = GgufFile::open(kDir + "gemma4-vocab.gguf");
  ReferenceBpe ref(*g);
  const std::vector<std::string> alphabet = {"a", "b", "e", "t", "h", "in", "the", " ", " ", " ", "\n", "\n\n", "\t",
                                             ">", "</", "<", "1", "9", ".", ",", "'", "é", "ß", "日", "本", "語", "中",
                                             "한", "ا", "👋", "🏽", "\r", "\xC2\xA0", "\xE2\x96\x81", "ñ", "—", "\x01"};
  std::mt19937 rng(1234);
  int checked = 0;
  for (int iter = 0; iter < 300; ++iter) {
    std::string s;
    size_t len = 1 + rng() % (iter < 250 ? 40 : 400);
    for (size_t k = 0; k < len; ++k) s += alphabet[rng() % alphabet.size()];
    std::vector<int32_t> want = ref.encode(s);
    std::vector<int32_t> got = gemma4().encode(s);
    ASSERT_EQ(got, want) << "\"" << escape(s) << "\"";
    ++checked;
  }
  std::printf("[ fixture  ] random texts matching the reference BPE: %d/300\n", checked);
}

TEST(Tokenizer, LoadsModelFolderWithGenerationConfig) {
  std::string dir = testing::TempDir() + "g4_tok_folder";
  std::string cmd = "rm -rf '" + dir + "' && mkdir -p '" + dir + "' && ln -s '" + kDir + "gemma3-tokenizer.json' '" + dir +
                    "/tokenizer.json'";
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  {
    std::ofstream(dir + "/generation_config.json") << R"({"bos_token_id": 2, "eos_token_id": [1, 106, 50]})";
    std::ofstream(dir + "/tokenizer_config.json") << R"({"bos_token": "<bos>", "eos_token": {"content": "<end_of_turn>"}, "add_bos_token": false})";
  }
  auto t = Tokenizer::load(dir);
  EXPECT_EQ(t->eog_ids(), (std::vector<int32_t>{1, 50, 106}));
  EXPECT_EQ(t->eos_id(), 106);
  EXPECT_FALSE(t->add_bos_default());
  EXPECT_EQ(t->encode("Hello world"), (std::vector<int32_t>{9259, 1902}));

  // A folder with a single GGUF and no tokenizer.json.
  std::string dir2 = dir + "_gguf";
  cmd = "rm -rf '" + dir2 + "' && mkdir -p '" + dir2 + "' && ln -s '" + kDir + "gemma4-vocab.gguf' '" + dir2 + "/model.gguf'";
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  EXPECT_EQ(Tokenizer::load(dir2)->vocab_size(), 262144);
}

TEST(Tokenizer, ClearErrors) {
  auto expect_error = [](const std::string& path, const std::string& fragment) {
    try {
      Tokenizer::load(path);
      ADD_FAILURE() << "no error for " << path;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
    }
  };
  expect_error("/nonexistent/tokenizer.json", "does not exist");
  std::string empty_dir = testing::TempDir() + "g4_tok_empty";
  ASSERT_EQ(std::system(("rm -rf '" + empty_dir + "' && mkdir -p '" + empty_dir + "'").c_str()), 0);
  expect_error(empty_dir, "no tokenizer in folder");
  std::string bad = testing::TempDir() + "g4_bad_tokenizer.json";
  std::ofstream(bad) << "{\"model\": {\"type\": \"Unigram\"}}";
  expect_error(bad, "Unigram");
  std::ofstream(bad) << "{not json";
  expect_error(bad, "not valid JSON");
}

TEST(Tokenizer, EncodeProtectedKeepsUserRangesAsText) {
  const Tokenizer& t = gemma4();
  std::string text = "<bos><|turn>user\nSay <turn|> and <|turn>model now<turn|>\n<|turn>model\n";
  size_t begin = text.find("Say"), end = text.find("now") + 3;
  std::vector<int32_t> ids = t.encode_protected(text, {{begin, end}});
  std::vector<int32_t> want = t.encode(text.substr(0, begin), true);
  std::vector<int32_t> user = t.encode(text.substr(begin, end - begin), false);
  std::vector<int32_t> tail = t.encode(text.substr(end), true);
  want.insert(want.end(), user.begin(), user.end());
  want.insert(want.end(), tail.begin(), tail.end());
  EXPECT_EQ(ids, want);
  EXPECT_EQ(t.decode(ids), text);
  int controls = 0;
  for (int32_t id : ids) controls += t.is_control(id);
  EXPECT_EQ(controls, 4);  // <bos> <|turn> ... <turn|> <|turn>: the template's only
  // Without user specials the result equals plain parse_special encoding, BPE running across edges.
  std::string s2 = "<|turn>user\nHello world<turn|>";
  size_t b2 = s2.find("Hello") - 1;  // range starts mid-line ("\nHello" boundary inside BPE text)
  EXPECT_EQ(t.encode_protected(s2, {{b2, b2 + 12}}), t.encode(s2, true));
  EXPECT_THROW(t.encode_protected(s2, {{5, 3}}), Error);
}

namespace {
// A tiny SentencePiece-style ("llama") GGUF vocabulary: merges come from scores.
// byte_41_text replaces the text of the byte token for 0x41 (token 68) when not empty.
std::vector<uint8_t> tiny_spm_gguf(const std::string& byte_41_text = "") {
  std::vector<std::string> toks = {"<unk>", "<s>", "</s>"};
  std::vector<int64_t> types = {2, 3, 3};
  std::vector<double> scores = {0, 0, 0};
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof name, "<0x%02X>", b);
    toks.push_back(b == 0x41 && !byte_41_text.empty() ? byte_41_text : name);
    types.push_back(6);
    scores.push_back(0);
  }
  const std::vector<std::pair<std::string, double>> words = {
      {"\xE2\x96\x81", -1}, {"h", -1}, {"e", -1}, {"l", -1}, {"o", -1}, {"\xE2\x96\x81h", -2},
      {"\xE2\x96\x81he", -3}, {"ll", -2.5}, {"llo", -4}, {"\xE2\x96\x81hello", -5}};
  for (const auto& [w, s] : words) {
    toks.push_back(w);
    types.push_back(1);
    scores.push_back(s);
  }
  GgufWriter w;
  w.set_string("tokenizer.ggml.model", "llama");
  w.set_strings("tokenizer.ggml.tokens", toks);
  w.set("tokenizer.ggml.token_type", GgufValue::int_array(GgufType::I32, types));
  w.set("tokenizer.ggml.scores", GgufValue::float_array(GgufType::F32, scores));
  w.set_u32("tokenizer.ggml.bos_token_id", 1);
  w.set_u32("tokenizer.ggml.eos_token_id", 2);
  w.set_u32("tokenizer.ggml.unknown_token_id", 0);
  return w.serialize();
}
}  // namespace

TEST(Tokenizer, SentencePieceScoresGguf) {
  std::vector<uint8_t> bytes = tiny_spm_gguf();
  auto g = GgufFile::parse(bytes.data(), bytes.size(), "tiny-spm.gguf");
  auto t = Tokenizer::load_gguf(*g);
  int32_t hello = *t->find_token("\xE2\x96\x81hello");
  EXPECT_EQ(t->encode("hello"), (std::vector<int32_t>{hello}));  // dummy prefix, merged by score
  EXPECT_EQ(t->encode("hello hello"), (std::vector<int32_t>{hello, hello}));
  std::vector<int32_t> hex = t->encode("hex");
  EXPECT_EQ(hex, (std::vector<int32_t>{*t->find_token("\xE2\x96\x81he"), 3 + 'x'}));  // x: byte fallback
  EXPECT_EQ(t->decode(hex), " hex");
  EXPECT_EQ(t->encode("<s>hello", true), (std::vector<int32_t>{1, hello}));
  EXPECT_EQ(t->bos_id(), 1);
  EXPECT_TRUE(t->add_bos_default());
}

// A token typed as a byte whose text is not exactly <0xHH> is an error naming the token, not text.
TEST(Tokenizer, MalformedByteTokenIsAnErrorNamingIt) {
  for (const std::string bad : {"<0x4G>", "<0x041>", "<0x4>", "A", "<0X41>", "<0x-1>", "<0x41"}) {
    std::vector<uint8_t> bytes = tiny_spm_gguf(bad);
    auto g = GgufFile::parse(bytes.data(), bytes.size(), "bad-byte.gguf");
    try {
      Tokenizer::load_gguf(*g);
      ADD_FAILURE() << bad << " accepted as a byte token";
    } catch (const Error& e) {
      const std::string msg = e.what();
      EXPECT_NE(msg.find("token 68 \"" + bad + "\""), std::string::npos) << msg;
      EXPECT_NE(msg.find("<0xHH>"), std::string::npos) << msg;
    }
  }
  std::vector<uint8_t> ok = tiny_spm_gguf("<0x41>");
  auto g = GgufFile::parse(ok.data(), ok.size(), "ok.gguf");
  EXPECT_EQ(Tokenizer::load_gguf(*g)->token_bytes(68), "A");
}

TEST(Tokenizer, SmallTokenizerJsonWithStringMergesAndEscapes) {
  // Merges as "a b" strings, \u escapes (incl. a surrogate pair), Prepend + Strip (Gemma 2 style),
  // a non-special added token that is split out in plain text and a special one that is not.
  std::string path = testing::TempDir() + "g4_small_tokenizer.json";
  std::ofstream(path) << R"({
    "version": "1.0", "truncation": null, "padding": null,
    "added_tokens": [
      {"id": 0, "content": "<unk>", "special": true},
      {"id": 1, "content": "<bos>", "special": true},
      {"id": 9, "content": "<b>", "special": false}
    ],
    "normalizer": {"type": "Sequence", "normalizers": [
      {"type": "Prepend", "prepend": "\u2581"},
      {"type": "Replace", "pattern": {"String": " "}, "content": "\u2581"}]},
    "pre_tokenizer": null,
    "post_processor": {"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "<bos>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}]},
    "decoder": {"type": "Sequence", "decoders": [{"type": "Replace", "pattern": {"String": "\u2581"}, "content": " "},
      {"type": "ByteFallback"}, {"type": "Fuse"}, {"type": "Strip", "content": " ", "start": 1, "stop": 0}]},
    "model": {"type": "BPE", "dropout": null, "unk_token": "<unk>", "fuse_unk": true, "byte_fallback": true,
      "vocab": {"<unk>": 0, "<bos>": 1, "\u2581": 2, "a": 3, "b": 4, "\u2581a": 5, "ab": 6, "\u2581ab": 7, "\ud83d\ude00": 8,
                "<b>": 9, "<0x63>": 10, "\"q\\": 11},
      "merges": ["\u2581 a", "\u2581a b", "a b"]}
  })";
  auto t = Tokenizer::load(path);
  EXPECT_EQ(t->vocab_size(), 12);
  EXPECT_EQ(t->find_token("\xF0\x9F\x98\x80"), 8);
  EXPECT_EQ(t->find_token("\"q\\"), 11);
  EXPECT_EQ(t->encode("ab"), (std::vector<int32_t>{7}));           // ▁ab via ranked merges
  EXPECT_EQ(t->encode("ab ab"), (std::vector<int32_t>{7, 7}));
  EXPECT_EQ(t->encode("c"), (std::vector<int32_t>{2, 10}));         // ▁ + byte fallback <0x63>
  EXPECT_EQ(t->encode("a<b>b"), (std::vector<int32_t>{5, 9, 2, 4}));  // <b> split out; Prepend per fragment
  EXPECT_EQ(t->encode("<bos>a"), (std::vector<int32_t>{2, 0, 4, 0, 0, 0, 3}));  // special as text (<unk> where no byte token)
  EXPECT_EQ(t->encode("<bos>a", true), (std::vector<int32_t>{1, 5}));
  EXPECT_EQ(t->decode({7, 7}), "ab ab");  // leading space stripped
  EXPECT_TRUE(t->add_bos_default());
  EXPECT_EQ(t->bos_id(), 1);
}
