// Loading a Hugging Face tokenizer.json (BPE model, Gemma's normaliser), plus the folder's
// tokenizer_config.json / generation_config.json / config.json for BOS, EOS and end-of-generation ids.
#include <array>

#include "core/error.h"
#include "core/json.h"
#include "core/mapped_file.h"
#include "text/tokenizer.h"
#include "text/json_scan.h"
#include "text/tokenizer_impl.h"

namespace g4 {

void add_gemma_eog_names(TokenizerImpl& t);  // tokenizer_gguf.cpp

namespace {

// "Replace" of the literal " " by "▁".
bool is_space_replace(const Json& n) {
  return n.is_object() && n.value("type", "") == "Replace" && n.contains("pattern") && n["pattern"].is_object() &&
         n["pattern"].value("String", "") == " " && n.value("content", "") == "\xE2\x96\x81";
}

bool is_prepend_space(const Json& n) {
  return n.is_object() && n.value("type", "") == "Prepend" && n.value("prepend", "") == "\xE2\x96\x81";
}

// A special token given as "text" or {"content": "text"} in tokenizer_config.json.
std::string token_text(const Json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_object() && v.contains("content") && v["content"].is_string()) return v["content"].get<std::string>();
  return "";
}

void add_eog_json(TokenizerImpl& t, const Json& v, bool& found) {
  if (v.is_number_integer()) {
    t.add_eog(int32_t(v.get<int64_t>()));
    found = true;
  } else if (v.is_array()) {
    for (const auto& x : v)
      if (x.is_number_integer()) {
        t.add_eog(int32_t(x.get<int64_t>()));
        found = true;
      }
  }
}

}  // namespace

std::unique_ptr<Tokenizer> Tokenizer::load_hf(const std::string& path, const std::string& folder) {
  std::unique_ptr<Tokenizer> tok(new Tokenizer());
  TokenizerImpl& t = *tok->impl_;
  t.source = path;
  auto fail = [&](const std::string& what) -> Error { return Error("tokenizer '" + path + "': " + what); };

  // Scan the file: vocab and merges with the fast scanner, every other value through nlohmann.
  Json j = Json::object();
  Json model = Json::object();
  std::string vocab_arena, merge_arena;
  std::vector<std::pair<uint32_t, uint32_t>> vocab_spans;  // (offset, length) in vocab_arena
  std::vector<int64_t> vocab_ids;
  std::vector<std::array<uint32_t, 4>> merge_spans;         // left (offset, length), right (offset, length)
  bool have_vocab = false, have_merges = false;
  {
    auto f = MappedFile::open(path, LoadMode::Map);
    std::string_view text(reinterpret_cast<const char*>(f->data()), f->size());
    JsonScanner sc(text, "tokenizer '" + path + "' is not valid JSON");
    auto raw = [&](std::string_view r) {
      Json v = Json::parse(r, nullptr, /*allow_exceptions=*/false);
      if (v.is_discarded()) sc.fail("bad value");
      return v;
    };
    std::string key, mkey;
    sc.expect('{');
    if (!sc.consume('}')) {
      do {
        key.clear();
        sc.string(key);
        sc.expect(':');
        if (key != "model" || sc.peek() != '{') {
          j[key] = raw(sc.raw_value());
          continue;
        }
        sc.expect('{');
        if (sc.consume('}')) continue;
        do {
          mkey.clear();
          sc.string(mkey);
          sc.expect(':');
          if (mkey == "vocab" && sc.peek() == '{') {
            have_vocab = true;
            sc.expect('{');
            if (sc.consume('}')) continue;
            do {
              size_t off = vocab_arena.size();
              sc.string(vocab_arena);
              vocab_spans.emplace_back(uint32_t(off), uint32_t(vocab_arena.size() - off));
              sc.expect(':');
              vocab_ids.push_back(sc.integer());
            } while (sc.consume(','));
            sc.expect('}');
          } else if (mkey == "merges" && sc.peek() == '[') {
            have_merges = true;
            sc.expect('[');
            if (sc.consume(']')) continue;
            do {
              if (sc.peek() == '"') {
                size_t off = merge_arena.size();
                sc.string(merge_arena);
                std::string_view m = std::string_view(merge_arena).substr(off);
                size_t sp = m.size() > 1 ? m.find(' ', 1) : std::string_view::npos;
                if (sp == std::string_view::npos)
                  throw fail("merge \"" + std::string(m.substr(0, 64)) + "\" is not two tokens separated by a space");
                merge_spans.push_back({uint32_t(off), uint32_t(sp), uint32_t(off + sp + 1), uint32_t(m.size() - sp - 1)});
              } else if (sc.consume('[')) {
                size_t l = merge_arena.size();
                sc.string(merge_arena);
                sc.expect(',');
                size_t r = merge_arena.size();
                sc.string(merge_arena);
                sc.expect(']');
                merge_spans.push_back({uint32_t(l), uint32_t(r - l), uint32_t(r), uint32_t(merge_arena.size() - r)});
              } else {
                throw fail("merge " + std::to_string(merge_spans.size()) + " is neither \"a b\" nor [\"a\", \"b\"]");
              }
            } while (sc.consume(','));
            sc.expect(']');
          } else {
            model[mkey] = raw(sc.raw_value());
          }
        } while (sc.consume(','));
        sc.expect('}');
        j["model"] = std::move(model);
        model = Json::object();
      } while (sc.consume(','));
    }
    sc.expect('}');
    if (sc.peek() != '\0') sc.fail("unexpected text after the JSON object");
  }
  if (!j.is_object() || !j.contains("model") || !j["model"].is_object()) throw fail("no \"model\" object");
  const Json& m = j["model"];
  std::string type = m.value("type", "BPE");
  if (type != "BPE") throw fail("tokenizer model type \"" + type + "\" is not supported (Gemma uses BPE)");
  if (m.contains("continuing_subword_prefix") && !m["continuing_subword_prefix"].is_null() &&
      m["continuing_subword_prefix"] != "")
    throw fail("continuing_subword_prefix is not supported");
  if (m.contains("end_of_word_suffix") && !m["end_of_word_suffix"].is_null() && m["end_of_word_suffix"] != "")
    throw fail("end_of_word_suffix is not supported");
  if (m.value("ignore_merges", false)) throw fail("ignore_merges = true is not supported");
  t.byte_fallback = m.value("byte_fallback", false);

  // Normaliser: Replace(" ", "▁"), optionally with Prepend("▁") (a SentencePiece dummy prefix).
  const Json& norm = j.contains("normalizer") ? j["normalizer"] : Json();
  bool replace = false, prepend = false;
  auto take = [&](const Json& n) {
    if (is_space_replace(n)) replace = true;
    else if (is_prepend_space(n)) prepend = true;
    else throw fail("normalizer " + n.dump().substr(0, 120) + " is not supported (Gemma's is Replace(\" \", \"\xE2\x96\x81\"))");
  };
  if (norm.is_object() && norm.value("type", "") == "Sequence" && norm.contains("normalizers")) {
    for (const auto& n : norm["normalizers"]) take(n);
  } else if (!norm.is_null()) {
    take(norm);
  }
  if (!replace) throw fail("the normalizer does not map spaces to \xE2\x96\x81; only Gemma-style tokenizers are supported");
  t.add_space_prefix = prepend;
  // Pre-tokenizer: Gemma's Split(" ") never fires once spaces became ▁.
  if (j.contains("pre_tokenizer") && !j["pre_tokenizer"].is_null()) {
    const Json& pt = j["pre_tokenizer"];
    bool ok = pt.is_object() && pt.value("type", "") == "Split" && pt.contains("pattern") && pt["pattern"].is_object() &&
              pt["pattern"].value("String", "") == " ";
    if (!ok) throw fail("pre_tokenizer " + pt.dump().substr(0, 120) + " is not supported");
  }
  // Decoder: Replace/ByteFallback/Fuse are what decode() does; Strip(" ", 1) drops the dummy prefix.
  if (j.contains("decoder") && j["decoder"].is_object()) {
    const Json& d = j["decoder"];
    auto check = [&](const Json& x) {
      if (x.is_object() && x.value("type", "") == "Strip" && x.value("start", 0) >= 1) t.strip_leading_space = true;
    };
    if (d.value("type", "") == "Sequence" && d.contains("decoders"))
      for (const auto& x : d["decoders"]) check(x);
    else
      check(d);
  }

  // Vocabulary: model.vocab plus added tokens (which may extend it).
  if (!have_vocab) throw fail("model.vocab is missing");
  int64_t max_id = -1;
  for (size_t i = 0; i < vocab_ids.size(); ++i) {
    int64_t id = vocab_ids[i];
    if (id < 0 || id > (1 << 24))
      throw fail("vocab entry \"" + vocab_arena.substr(vocab_spans[i].first, std::min<uint32_t>(vocab_spans[i].second, 64)) +
                 "\" has an out-of-range id " + std::to_string(id));
    max_id = std::max(max_id, id);
  }
  const Json added = j.contains("added_tokens") && j["added_tokens"].is_array() ? j["added_tokens"] : Json::array();
  for (const auto& a : added) {
    if (!a.is_object() || !a.contains("id") || !a["id"].is_number_integer() || !a.contains("content") ||
        !a["content"].is_string())
      throw fail("an added_tokens entry lacks an integer id or a content string");
    int64_t id = a["id"].get<int64_t>();
    if (id < 0 || id > (1 << 24)) throw fail("added token id " + std::to_string(id) + " is out of range");
    max_id = std::max(max_id, id);
  }
  if (max_id < 0) throw fail("the vocabulary is empty");
  std::vector<std::string_view> pieces(size_t(max_id) + 1);
  std::vector<TokenType> types(size_t(max_id) + 1, TokenType::Unused);
  for (size_t i = 0; i < vocab_ids.size(); ++i) {
    size_t id = size_t(vocab_ids[i]);
    pieces[id] = std::string_view(vocab_arena).substr(vocab_spans[i].first, vocab_spans[i].second);
    types[id] = TokenType::Normal;
  }
  for (const auto& a : added) {
    size_t id = size_t(a["id"].get<int64_t>());
    pieces[id] = a["content"].get_ref<const std::string&>();
    types[id] = a.value("special", false) ? TokenType::Control : TokenType::UserDefined;
  }
  std::string unk = m.contains("unk_token") && m["unk_token"].is_string() ? m["unk_token"].get<std::string>() : "";
  t.set_vocab(pieces, std::move(types));
  if (!unk.empty()) {
    t.unk_id = t.lookup(unk);
    if (t.unk_id >= 0 && t.types[size_t(t.unk_id)] == TokenType::Normal) t.types[size_t(t.unk_id)] = TokenType::Unknown;
  }

  // Merges: "a b" strings (older files) or ["a", "b"] pairs, already split by the scanner.
  if (!have_merges) throw fail("model.merges is missing");
  std::vector<std::pair<std::string_view, std::string_view>> pairs;
  pairs.reserve(merge_spans.size());
  const std::string_view ma(merge_arena);
  for (const auto& sp : merge_spans) pairs.emplace_back(ma.substr(sp[0], sp[1]), ma.substr(sp[2], sp[3]));
  t.add_merges(pairs);
  t.whole_newline_runs = true;
  t.finalize();

  for (const auto& a : added)
    t.specials.insert(a["content"].get_ref<const std::string&>(), int32_t(a["id"].get<int64_t>()), a.value("special", false));

  // BOS / EOS: tokenizer_config.json, else the post-processor's first special token, else by name.
  Json cfg;
  if (!folder.empty() && file_exists(folder + "/tokenizer_config.json"))
    cfg = parse_json(read_text_file(folder + "/tokenizer_config.json"), folder + "/tokenizer_config.json");
  std::string bos_text = cfg.is_object() && cfg.contains("bos_token") ? token_text(cfg["bos_token"]) : "";
  std::string eos_text = cfg.is_object() && cfg.contains("eos_token") ? token_text(cfg["eos_token"]) : "";
  bool post_bos = false;
  if (j.contains("post_processor") && j["post_processor"].is_object()) {
    const Json& pp = j["post_processor"];
    if (pp.value("type", "") == "TemplateProcessing" && pp.contains("single") && pp["single"].is_array() &&
        !pp["single"].empty() && pp["single"][0].contains("SpecialToken")) {
      post_bos = true;
      if (bos_text.empty()) bos_text = pp["single"][0]["SpecialToken"].value("id", "");
    }
  }
  t.bos = t.lookup(bos_text.empty() ? "<bos>" : bos_text);
  t.eos = t.lookup(eos_text.empty() ? "<eos>" : eos_text);
  t.add_bos = cfg.is_object() && cfg.contains("add_bos_token") && cfg["add_bos_token"].is_boolean()
                  ? cfg["add_bos_token"].get<bool>()
                  : post_bos;

  // End of generation: generation_config.json / config.json eos_token_id, plus EOS.
  bool found = false;
  for (const char* name : {"generation_config.json", "config.json"}) {
    if (folder.empty() || !file_exists(folder + "/" + name)) continue;
    Json c = parse_json(read_text_file(folder + "/" + name), folder + "/" + name);
    if (!c.is_object()) continue;
    if (c.contains("eos_token_id")) add_eog_json(t, c["eos_token_id"], found);
    if (c.contains("text_config") && c["text_config"].is_object() && c["text_config"].contains("eos_token_id"))
      add_eog_json(t, c["text_config"]["eos_token_id"], found);
    if (found) break;  // generation_config.json wins over config.json
  }
  t.add_eog(t.eos);
  if (!found) add_gemma_eog_names(t);
  return tok;
}

}  // namespace g4
