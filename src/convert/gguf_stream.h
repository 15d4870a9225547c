#pragma once
// A GGUF writer that streams tensor data to disk tensor by tensor (and chunk by chunk), so files far
// larger than memory (a 17 GB 31B model) can be written. Metadata comes from a GgufWriter (its value
// serialisation is reused); tensor infos are declared up front, then the data is appended in order.
//
//   GgufWriter meta; meta.set_string("general.architecture", "gemma4");
//   GgufStreamWriter w(meta);
//   w.add_tensor_info("token_embd.weight", 8 /*Q8_0*/, {1536, 262144});
//   w.open("out.gguf");
//   w.write(bytes, n);   // any number of chunks, tensors in declaration order
//   w.finish();          // checks every byte arrived, renames out.gguf.tmp -> out.gguf
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "formats/gguf_writer.h"

namespace g4 {

class GgufStreamWriter {
 public:
  explicit GgufStreamWriter(const GgufWriter& metadata, uint32_t alignment = 32);
  ~GgufStreamWriter();
  GgufStreamWriter(const GgufStreamWriter&) = delete;
  GgufStreamWriter& operator=(const GgufStreamWriter&) = delete;

  // Declares a tensor (ne in GGUF order); returns its byte size. Only before open().
  size_t add_tensor_info(const std::string& name, uint32_t ggml_type, const std::vector<int64_t>& ne);
  // Creates path.tmp and writes the header. Throws g4::Error naming the path on failure.
  void open(const std::string& path);
  // Appends data for the current tensor (may span tensor boundaries only at exact tensor ends).
  void write(const void* data, size_t n);
  // Verifies all tensor bytes were written, closes and renames to the final path.
  void finish();

  size_t total_bytes() const { return total_; }
  size_t tensor_count() const { return tensors_.size(); }
  const std::string& current_tensor() const;

 private:
  struct Info {
    std::string name;
    uint32_t type;
    std::vector<int64_t> ne;
    size_t nbytes;
  };
  void put(const void* p, size_t n);
  void pad();

  std::vector<uint8_t> meta_;
  uint32_t alignment_;
  std::vector<Info> tensors_;
  size_t total_ = 0;
  std::string path_, tmp_;
  std::FILE* f_ = nullptr;
  size_t written_ = 0;    // file bytes so far
  size_t cur_ = 0;        // index of the tensor being written
  size_t cur_done_ = 0;   // bytes of it written
};

}  // namespace g4
