#pragma once
// Test helper: reads the token list of a vocab-only GGUF (tokenizer.ggml.tokens / token_type) and
// turns it into the raw bytes each token stands for: "▁" -> " ", <0xXX> -> that byte, control and
// user-defined (marker) tokens -> "" (never part of JSON output).
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

namespace g4::testing {

inline std::vector<std::string> load_gguf_token_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return {};
  std::string data((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  size_t pos = 0;
  auto need = [&](size_t n) {
    if (pos + n > data.size()) throw std::runtime_error("truncated gguf");
  };
  auto u32 = [&]() { need(4); uint32_t v; std::memcpy(&v, data.data() + pos, 4); pos += 4; return v; };
  auto u64 = [&]() { need(8); uint64_t v; std::memcpy(&v, data.data() + pos, 8); pos += 8; return v; };
  auto str = [&]() { uint64_t n = u64(); need(n); std::string s = data.substr(pos, n); pos += n; return s; };
  auto scalar_size = [](uint32_t t) -> size_t {
    switch (t) {
      case 0: case 1: case 7: return 1;
      case 2: case 3: return 2;
      case 4: case 5: case 6: return 4;
      case 10: case 11: case 12: return 8;
    }
    return 0;
  };
  if (data.compare(0, 4, "GGUF") != 0) throw std::runtime_error("not a gguf");
  pos = 4;
  u32();
  u64();
  uint64_t n_kv = u64();
  std::vector<std::string> tokens;
  std::vector<int32_t> types;
  for (uint64_t k = 0; k < n_kv; ++k) {
    std::string key = str();
    uint32_t t = u32();
    if (t == 8) { str(); continue; }
    if (t != 9) { need(scalar_size(t)); pos += scalar_size(t); continue; }
    uint32_t et = u32();
    uint64_t n = u64();
    if (et == 8) {
      std::vector<std::string> v;
      v.reserve(n);
      for (uint64_t i = 0; i < n; ++i) v.push_back(str());
      if (key == "tokenizer.ggml.tokens") tokens = std::move(v);
    } else {
      size_t sz = scalar_size(et);
      need(sz * n);
      if (key == "tokenizer.ggml.token_type" && et == 5) {
        types.resize(n);
        std::memcpy(types.data(), data.data() + pos, 4 * n);
      }
      pos += sz * n;
    }
  }
  std::vector<std::string> out(tokens.size());
  for (size_t i = 0; i < tokens.size(); ++i) {
    const std::string& t = tokens[i];
    int type = i < types.size() ? types[i] : 1;
    if (type == 6 && t.size() == 6 && t.compare(0, 3, "<0x") == 0) {
      out[i] = std::string(1, char(std::stoi(t.substr(3, 2), nullptr, 16)));
    } else if (type == 1) {
      std::string s;
      for (size_t j = 0; j < t.size();) {
        if (t.compare(j, 3, "\xE2\x96\x81") == 0) { s += ' '; j += 3; }
        else s += t[j++];
      }
      out[i] = s;
    }
  }
  return out;
}

}  // namespace g4::testing
