#include "template/gguf_metadata.h"

#include <cstring>
#include <fstream>

#include "core/error.h"
#include "core/mapped_file.h"

namespace g4::tpl {

namespace {

class Reader {
 public:
  Reader(const uint8_t* d, size_t n, const std::string& path) : d_(d), n_(n), path_(path) {}

  template <class T>
  T read() {
    need(sizeof(T));
    T v;
    std::memcpy(&v, d_ + p_, sizeof(T));
    p_ += sizeof(T);
    return v;
  }
  std::string read_string() {
    uint64_t len = read<uint64_t>();
    need(len);
    std::string s(reinterpret_cast<const char*>(d_ + p_), static_cast<size_t>(len));
    p_ += static_cast<size_t>(len);
    return s;
  }
  void skip(uint64_t bytes) {
    need(bytes);
    p_ += static_cast<size_t>(bytes);
  }
  size_t pos() const { return p_; }
  void seek(size_t p) { p_ = p; }

  static size_t scalar_size(uint32_t type) {
    switch (type) {
      case 0:
      case 1:
      case 7:
        return 1;
      case 2:
      case 3:
        return 2;
      case 4:
      case 5:
      case 6:
        return 4;
      case 10:
      case 11:
      case 12:
        return 8;
      default:
        return 0;
    }
  }

  void skip_value(uint32_t type) {
    if (type == 8) {
      skip(read<uint64_t>());
    } else if (type == 9) {
      uint32_t et = read<uint32_t>();
      uint64_t count = read<uint64_t>();
      if (et == 8) {
        for (uint64_t i = 0; i < count; ++i) skip(read<uint64_t>());
      } else if (et == 9) {
        fail("nested arrays are not supported");
      } else {
        size_t s = scalar_size(et);
        if (!s) fail("unknown value type " + std::to_string(et));
        if (count > (n_ - p_) / s) fail("array runs past the end of the file");
        skip(count * s);
      }
    } else {
      size_t s = scalar_size(type);
      if (!s) fail("unknown value type " + std::to_string(type));
      skip(s);
    }
  }

  std::optional<int64_t> read_int(uint32_t type) {
    switch (type) {
      case 0:
        return read<uint8_t>();
      case 1:
        return read<int8_t>();
      case 2:
        return read<uint16_t>();
      case 3:
        return read<int16_t>();
      case 4:
        return read<uint32_t>();
      case 5:
        return read<int32_t>();
      case 10:
        return static_cast<int64_t>(read<uint64_t>());
      case 11:
        return read<int64_t>();
      default:
        skip_value(type);
        return std::nullopt;
    }
  }

  [[noreturn]] void fail(const std::string& msg) const { throw Error(path_ + ": invalid GGUF metadata: " + msg); }

 private:
  void need(uint64_t bytes) const {
    if (bytes > n_ - p_) fail("unexpected end of file");
  }
  const uint8_t* d_;
  size_t n_;
  size_t p_ = 0;
  const std::string& path_;
};

}  // namespace

bool is_gguf_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  char magic[4] = {};
  if (!f.read(magic, 4)) return false;
  return std::memcmp(magic, "GGUF", 4) == 0;
}

GgufChatInfo read_gguf_chat_info(const std::string& path) {
  auto file = MappedFile::open(path, LoadMode::Map);
  Reader r(file->data(), file->size(), path);
  if (file->size() < 4 || std::memcmp(file->data(), "GGUF", 4) != 0) r.fail("not a GGUF file (bad magic)");
  r.skip(4);
  uint32_t version = r.read<uint32_t>();
  if (version < 2) r.fail("GGUF version " + std::to_string(version) + " is not supported");
  r.read<uint64_t>();  // tensor count
  uint64_t kv_count = r.read<uint64_t>();
  GgufChatInfo info;
  std::map<std::string, int64_t> ids;
  size_t tokens_at = 0;
  uint64_t token_count = 0;
  for (uint64_t i = 0; i < kv_count; ++i) {
    std::string key = r.read_string();
    uint32_t type = r.read<uint32_t>();
    if (key == "tokenizer.chat_template" && type == 8) {
      info.chat_template = r.read_string();
    } else if (key == "tokenizer.ggml.tokens" && type == 9) {
      size_t at = r.pos();
      uint32_t et = r.read<uint32_t>();
      uint64_t count = r.read<uint64_t>();
      r.seek(at);
      if (et == 8) {
        tokens_at = at + 12;
        token_count = count;
      }
      r.skip_value(type);
    } else if (key == "tokenizer.ggml.bos_token_id" || key == "tokenizer.ggml.eos_token_id" ||
               key == "tokenizer.ggml.unknown_token_id" || key == "tokenizer.ggml.padding_token_id") {
      if (auto v = r.read_int(type)) ids[key] = *v;
    } else {
      r.skip_value(type);
    }
  }
  if (tokens_at) {
    static const std::pair<const char*, const char*> names[] = {{"tokenizer.ggml.bos_token_id", "bos_token"},
                                                                {"tokenizer.ggml.eos_token_id", "eos_token"},
                                                                {"tokenizer.ggml.unknown_token_id", "unk_token"},
                                                                {"tokenizer.ggml.padding_token_id", "pad_token"}};
    for (auto& [key, name] : names) {
      auto it = ids.find(key);
      if (it == ids.end() || it->second < 0 || static_cast<uint64_t>(it->second) >= token_count) continue;
      r.seek(tokens_at);
      for (int64_t k = 0; k < it->second; ++k) r.skip(r.read<uint64_t>());
      info.special_tokens[name] = r.read_string();
    }
  }
  return info;
}

}  // namespace g4::tpl
