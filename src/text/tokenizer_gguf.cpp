// Loading a tokenizer from GGUF metadata (tokenizer.ggml.*), as llama.cpp's converter writes it.
#include <chrono>

#include "core/error.h"
#include "formats/gguf.h"
#include "text/tokenizer.h"
#include "text/tokenizer_impl.h"

namespace g4 {

// Adds the end-of-generation tokens Gemma models use, when the vocabulary has them.
void add_gemma_eog_names(TokenizerImpl& t) {
  for (const char* name : {"<eos>", "<end_of_turn>", "<turn|>", "<|tool_response>"}) t.add_eog(t.lookup(name));
}

std::unique_ptr<Tokenizer> Tokenizer::load_gguf(const std::string& path) { return load_gguf(*GgufFile::open(path)); }

std::unique_ptr<Tokenizer> Tokenizer::load_gguf(const GgufFile& gguf) {
  const GgufFile* g = &gguf;
  const std::string& path = gguf.path();
  std::unique_ptr<Tokenizer> tok(new Tokenizer());
  TokenizerImpl& t = *tok->impl_;
  t.source = path;
  auto where = [&](const std::string& what) { return "tokenizer in '" + path + "': " + what; };

  if (!g->has("tokenizer.ggml.model"))
    throw Error(where("the GGUF has no tokenizer (metadata tokenizer.ggml.model is missing); use a model GGUF "
                      "converted with its vocabulary, or point --model at the Hugging Face folder"));
  const std::string model = g->get_string("tokenizer.ggml.model");
  if (model != "gemma4" && model != "llama")
    throw Error(where("tokenizer model '" + model + "' is not supported (this engine reads Gemma tokenizers: "
                      "'gemma4' BPE or 'llama' SentencePiece)"));

  std::vector<std::string_view> pieces = g->get_array_strings("tokenizer.ggml.tokens");
  if (pieces.empty()) throw Error(where("tokenizer.ggml.tokens is empty"));
  if (pieces.size() > size_t(INT32_MAX / 2)) throw Error(where("tokenizer.ggml.tokens is absurdly large"));
  std::vector<TokenType> types(pieces.size(), TokenType::Normal);
  if (const GgufValue* tt = g->find("tokenizer.ggml.token_type")) {
    if (!tt->is_array() || !gguf_type_is_integer(tt->elem_type()) || tt->size() != pieces.size())
      throw Error(where("tokenizer.ggml.token_type must be an integer array with one entry per token (" +
                        std::to_string(pieces.size()) + ")"));
    for (size_t i = 0; i < pieces.size(); ++i) {
      int64_t v = tt->int_at(i);
      if (v < 0 || v > 6) throw Error(where("token " + std::to_string(i) + " has unknown token type " + std::to_string(v)));
      types[i] = TokenType(v);
    }
  }
  t.set_vocab(pieces, std::move(types));

  if (model == "gemma4") {
    if (!g->has("tokenizer.ggml.merges"))
      throw Error(where("a 'gemma4' tokenizer needs tokenizer.ggml.merges, which is missing"));
    const GgufValue& mv = g->get("tokenizer.ggml.merges");
    if (!mv.is_array() || mv.elem_type() != GgufType::STRING)
      throw Error(where("tokenizer.ggml.merges is not an array of strings"));
    std::vector<std::pair<std::string_view, std::string_view>> pairs(size_t(mv.size()));
    for (uint64_t i = 0; i < mv.size(); ++i) {
      std::string_view m = mv.string_at(i);
      size_t sp = m.size() > 1 ? m.find(' ', 1) : std::string_view::npos;
      if (sp == std::string_view::npos)
        throw Error(where("merge " + std::to_string(i) + " \"" + std::string(m.substr(0, 64)) + "\" is not two tokens separated by a space"));
      pairs[i] = {m.substr(0, sp), m.substr(sp + 1)};
    }
    t.add_merges(pairs);
    t.whole_newline_runs = true;
    t.add_space_prefix = g->get_bool("tokenizer.ggml.add_space_prefix", false);
    t.add_bos = true;  // llama.cpp forces add_bos for gemma4
  } else {
    std::vector<float> scores = g->has("tokenizer.ggml.scores") ? g->get_array_floats("tokenizer.ggml.scores")
                                                               : std::vector<float>();
    if (scores.size() != pieces.size())
      throw Error(where("a 'llama' (SentencePiece) tokenizer needs tokenizer.ggml.scores with one score per token"));
    t.merges_from_scores(scores);
    t.whole_newline_runs = false;
    t.add_space_prefix = g->get_bool("tokenizer.ggml.add_space_prefix", true);
    t.add_bos = g->get_bool("tokenizer.ggml.add_bos_token", true);
  }
  t.finalize();

  auto id_key = [&](const char* key) -> int32_t {
    if (!g->has(key)) return -1;
    int64_t v = g->get_i64(key);
    if (v < 0 || v >= t.n_vocab) throw Error(where(std::string(key) + " = " + std::to_string(v) + " is not a token id"));
    return int32_t(v);
  };
  t.bos = id_key("tokenizer.ggml.bos_token_id");
  t.eos = id_key("tokenizer.ggml.eos_token_id");
  t.unk_id = id_key("tokenizer.ggml.unknown_token_id");
  if (t.bos < 0) t.bos = t.lookup("<bos>");
  if (t.eos < 0) t.eos = t.lookup("<eos>");
  t.add_eog(t.eos);
  t.add_eog(id_key("tokenizer.ggml.eot_token_id"));
  t.add_eog(id_key("tokenizer.ggml.eom_token_id"));
  add_gemma_eog_names(t);

  for (int32_t id = 0; id < t.n_vocab; ++id) {
    TokenType ty = t.types[size_t(id)];
    if (ty == TokenType::Control || ty == TokenType::UserDefined || ty == TokenType::Unknown)
      t.specials.insert(t.piece(id), id, /*special=*/true);
  }
  return tok;
}

}  // namespace g4
