#pragma once
// GGUF writer (version 3): metadata of every type (nested arrays included) and tensors given as raw
// bytes, laid out with the requested alignment and written atomically (path.tmp, then renamed).
//
//   GgufWriter w;
//   w.set_string("general.architecture", "gemma4");
//   w.set("gemma4.block_count", GgufValue::u32(35));
//   w.add_tensor("token_embd.weight", /*ggml type F32*/ 0, {hidden, vocab}, bytes);
//   w.write("out.gguf");
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "formats/gguf.h"

namespace g4 {

class GgufWriter {
 public:
  // alignment: a power of two; other than 32 it is recorded as general.alignment.
  explicit GgufWriter(uint32_t alignment = 32);

  // Sets (or replaces, keeping its place) a metadata value.
  void set(const std::string& key, GgufValue value);
  void set_string(const std::string& key, std::string v) { set(key, GgufValue::string(std::move(v))); }
  void set_u32(const std::string& key, uint32_t v) { set(key, GgufValue::u32(v)); }
  void set_i32(const std::string& key, int32_t v) { set(key, GgufValue::i32(v)); }
  void set_u64(const std::string& key, uint64_t v) { set(key, GgufValue::u64(v)); }
  void set_f32(const std::string& key, float v) { set(key, GgufValue::f32(v)); }
  void set_bool(const std::string& key, bool v) { set(key, GgufValue::boolean(v)); }
  void set_strings(const std::string& key, const std::vector<std::string>& v) { set(key, GgufValue::string_array(v)); }
  bool has(const std::string& key) const;
  void remove(const std::string& key);
  // Copies every metadata value of `src` (except general.alignment).
  void copy_metadata(const GgufFile& src);

  // Adds a tensor; ne in GGUF order (ne[0] innermost). `bytes` must be exactly the size the type and
  // shape imply. add_tensor copies nothing until write(): `data` must stay valid until then.
  void add_tensor(const std::string& name, uint32_t ggml_type, const std::vector<int64_t>& ne, const void* data,
                  size_t nbytes);
  // The same, owning its bytes.
  void add_tensor(const std::string& name, uint32_t ggml_type, const std::vector<int64_t>& ne,
                  std::vector<uint8_t> bytes);

  // The whole file image (for small files and tests).
  std::vector<uint8_t> serialize() const;
  // Writes atomically; throws g4::Error naming the path on failure.
  void write(const std::string& path) const;

  // Bytes a tensor of this type and shape occupies; throws for unknown types or a bad first dimension.
  static size_t tensor_nbytes(uint32_t ggml_type, const std::vector<int64_t>& ne);

 private:
  struct Tensor {
    std::string name;
    uint32_t type;
    std::vector<int64_t> ne;
    const uint8_t* data;
    size_t nbytes;
    std::shared_ptr<std::vector<uint8_t>> owned;
  };
  template <class Sink>
  void emit(Sink& sink) const;

  uint32_t alignment_;
  std::vector<std::pair<std::string, GgufValue>> kv_;
  std::vector<Tensor> tensors_;
};

}  // namespace g4
