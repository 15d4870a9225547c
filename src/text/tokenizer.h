#pragma once
// The Gemma tokenizer: SentencePiece-style BPE over code points with byte fallback.
//
// Loads from
//   - a GGUF file (tokenizer.ggml.*; model "gemma4" = BPE with ranked merges, "llama" = SentencePiece
//     scores, as in Gemma 3 GGUFs); a vocab-only GGUF with no tensors is fine;
//   - a Hugging Face tokenizer.json (model BPE, byte_fallback, merges as "a b" strings or ["a","b"] pairs,
//     added tokens split out before BPE, Gemma's Replace(" ", "▁") normalizer);
//   - a model folder holding tokenizer.json (preferred) or a single *.gguf.
//
// Security: with parse_special = false (the default) text is always text: a user typing "<|turn>" gets
// the ids of those characters, never the control token. Only trusted template text should be encoded
// with parse_special = true. (Hugging Face's non-special added tokens, such as Gemma 3's HTML tags and
// whitespace runs, are split out in both modes, as Hugging Face does; they carry no control meaning.)
//
// Thread safety: a loaded Tokenizer is immutable; encode/decode may run concurrently.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace g4 {

// Token kinds, numbered as GGUF's tokenizer.ggml.token_type.
enum class TokenType : uint8_t { Undefined = 0, Normal = 1, Unknown = 2, Control = 3, UserDefined = 4, Unused = 5, Byte = 6 };

struct TokenizerImpl;
class GgufFile;

class Tokenizer {
 public:
  // path: a model folder (tokenizer.json, else one *.gguf), a .gguf file, or a tokenizer.json file.
  // Throws g4::Error saying what is missing or malformed.
  static std::unique_ptr<Tokenizer> load(const std::string& path);
  static std::unique_ptr<Tokenizer> load_gguf(const std::string& gguf_path);
  static std::unique_ptr<Tokenizer> load_gguf(const GgufFile& gguf);  // an already opened file
  // tokenizer.json; `folder` (may be empty) is searched for tokenizer_config.json,
  // generation_config.json and config.json (BOS/EOS and end-of-generation ids).
  static std::unique_ptr<Tokenizer> load_hf(const std::string& tokenizer_json_path, const std::string& folder = "");

  ~Tokenizer();
  Tokenizer(const Tokenizer&) = delete;
  Tokenizer& operator=(const Tokenizer&) = delete;

  // Text (UTF-8; invalid bytes are encoded through byte fallback) to ids. parse_special: recognise
  // control tokens written in the text (trusted template text only). add_bos: start with BOS (not
  // added a second time when the text itself starts with BOS).
  std::vector<int32_t> encode(std::string_view text, bool parse_special = false, bool add_bos = false) const;
  // Template text holding user content: special tokens are recognised (as with parse_special) except
  // inside the byte ranges `plain` ([begin, end) offsets into text, sorted, non-overlapping), which stay
  // text. BPE still runs across range edges, so the ids equal encode(text, true) whenever the plain
  // ranges hold no special-token strings. No BOS is added.
  std::vector<int32_t> encode_protected(std::string_view text,
                                        const std::vector<std::pair<size_t, size_t>>& plain) const;
  // Ids to text: the concatenation of token_bytes; skip_special drops control tokens.
  // Throws g4::Error for ids outside [0, vocab_size()).
  std::string decode(const std::vector<int32_t>& ids, bool skip_special = false) const;
  // The exact bytes token `id` contributes to the output ("▁" becomes a space, <0xNN> one raw byte).
  // May be part of a UTF-8 character: for streaming, buffer until the bytes form whole characters.
  std::string token_bytes(int32_t id) const;
  // The token's vocabulary string as stored ("▁Hello", "<0x0A>", "<|turn>").
  std::string piece(int32_t id) const;

  int32_t vocab_size() const;
  int32_t bos_id() const;
  int32_t eos_id() const;
  bool add_bos_default() const;  // what the model file asks for (GGUF tokenizer.ggml.add_bos_token)
  std::optional<int32_t> find_token(std::string_view piece) const;
  TokenType token_type(int32_t id) const;
  bool is_special(int32_t id) const;  // control or user-defined
  bool is_control(int32_t id) const;
  std::vector<int32_t> eog_ids() const;  // end-of-generation ids, sorted
  bool is_eog(int32_t id) const;
  const std::string& source() const;  // the file it was loaded from

 private:
  Tokenizer();
  std::unique_ptr<TokenizerImpl> impl_;
  friend struct TokenizerImpl;
};

}  // namespace g4
