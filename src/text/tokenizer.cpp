#include "text/tokenizer.h"

#include <dirent.h>

#include <algorithm>

#include "core/error.h"
#include "core/mapped_file.h"
#include "text/tokenizer_impl.h"

namespace g4 {

Tokenizer::Tokenizer() : impl_(std::make_unique<TokenizerImpl>()) {}
Tokenizer::~Tokenizer() = default;

static bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::unique_ptr<Tokenizer> Tokenizer::load(const std::string& path) {
  if (is_directory(path)) {
    std::string dir = path;
    while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
    if (file_exists(dir + "/tokenizer.json")) return load_hf(dir + "/tokenizer.json", dir);
    std::vector<std::string> ggufs;
    if (DIR* d = opendir(dir.c_str())) {
      while (dirent* e = readdir(d)) {
        std::string name = e->d_name;
        if (ends_with(name, ".gguf") && name.find("mmproj") == std::string::npos) ggufs.push_back(name);
      }
      closedir(d);
    }
    std::sort(ggufs.begin(), ggufs.end());
    if (ggufs.size() == 1) return load_gguf(dir + "/" + ggufs[0]);
    if (ggufs.empty())
      throw Error("no tokenizer in folder '" + dir + "': expected tokenizer.json (Hugging Face) or a .gguf file");
    throw Error("folder '" + dir + "' holds " + std::to_string(ggufs.size()) + " .gguf files and no tokenizer.json; " +
                "pass the .gguf file itself");
  }
  if (!file_exists(path)) throw Error("tokenizer path '" + path + "' does not exist (give a model folder, a .gguf or a tokenizer.json)");
  // Sniff the content rather than trusting the extension.
  auto f = MappedFile::open(path, LoadMode::Map);
  bool is_gguf = f->size() >= 4 && std::string_view(reinterpret_cast<const char*>(f->data()), 4) == "GGUF";
  f.reset();
  if (is_gguf) return load_gguf(path);
  if (ends_with(path, ".gguf")) return load_gguf(path);  // gives the "not a GGUF file" error
  std::string folder = path.find('/') == std::string::npos ? "." : path.substr(0, path.rfind('/'));
  return load_hf(path, folder);
}

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool parse_special, bool add_bos) const {
  std::vector<int32_t> out;
  out.reserve(text.size() / 3 + 4);
  if (add_bos && impl_->bos >= 0) out.push_back(impl_->bos);
  size_t start = out.size();
  impl_->encode_text(text, parse_special, out);
  // Never two BOS: template text that already starts with <bos> keeps just that one.
  if (add_bos && impl_->bos >= 0 && out.size() > start && out[start] == impl_->bos) out.erase(out.begin());
  return out;
}

std::vector<int32_t> Tokenizer::encode_protected(std::string_view text,
                                                 const std::vector<std::pair<size_t, size_t>>& plain) const {
  for (size_t i = 0; i < plain.size(); ++i)
    if (plain[i].first > plain[i].second || (i > 0 && plain[i].first < plain[i - 1].second))
      throw Error("encode_protected: plain ranges must be sorted, non-overlapping [begin, end) pairs");
  std::vector<int32_t> out;
  out.reserve(text.size() / 3 + 4);
  impl_->encode_text(text, true, out, &plain);
  return out;
}

std::string Tokenizer::decode(const std::vector<int32_t>& ids, bool skip_special) const {
  std::string out;
  out.reserve(ids.size() * 4);
  for (int32_t id : ids) {
    if (id < 0 || id >= impl_->n_vocab)
      throw Error("token id " + std::to_string(id) + " is out of range: the vocabulary has " +
                  std::to_string(impl_->n_vocab) + " tokens (ids 0.." + std::to_string(impl_->n_vocab - 1) + ")");
    if (skip_special && impl_->types[size_t(id)] == TokenType::Control) continue;
    out.append(impl_->out(id));
  }
  if (impl_->strip_leading_space && !out.empty() && out[0] == ' ') out.erase(0, 1);
  return out;
}

std::string Tokenizer::token_bytes(int32_t id) const {
  if (id < 0 || id >= impl_->n_vocab)
    throw Error("token id " + std::to_string(id) + " is out of range (vocabulary of " + std::to_string(impl_->n_vocab) + ")");
  return std::string(impl_->out(id));
}

std::string Tokenizer::piece(int32_t id) const {
  if (id < 0 || id >= impl_->n_vocab)
    throw Error("token id " + std::to_string(id) + " is out of range (vocabulary of " + std::to_string(impl_->n_vocab) + ")");
  return std::string(impl_->piece(id));
}

int32_t Tokenizer::vocab_size() const { return impl_->n_vocab; }
int32_t Tokenizer::bos_id() const { return impl_->bos; }
int32_t Tokenizer::eos_id() const { return impl_->eos; }
bool Tokenizer::add_bos_default() const { return impl_->add_bos; }

std::optional<int32_t> Tokenizer::find_token(std::string_view piece) const {
  int32_t id = impl_->lookup(piece);
  if (id < 0) return std::nullopt;
  return id;
}

TokenType Tokenizer::token_type(int32_t id) const {
  if (id < 0 || id >= impl_->n_vocab) return TokenType::Undefined;
  return impl_->types[size_t(id)];
}

bool Tokenizer::is_special(int32_t id) const {
  TokenType t = token_type(id);
  return t == TokenType::Control || t == TokenType::UserDefined;
}

bool Tokenizer::is_control(int32_t id) const { return token_type(id) == TokenType::Control; }

std::vector<int32_t> Tokenizer::eog_ids() const { return impl_->eog; }

bool Tokenizer::is_eog(int32_t id) const {
  return std::binary_search(impl_->eog.begin(), impl_->eog.end(), id);
}

const std::string& Tokenizer::source() const { return impl_->source; }

}  // namespace g4
