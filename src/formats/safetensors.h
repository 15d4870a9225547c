#pragma once
// safetensors: reading (memory-mapped, validated) and writing.
// Layout: u64 little-endian header size N, N bytes of JSON {name: {dtype, shape, data_offsets}}, data.
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/mapped_file.h"

namespace g4 {

struct TensorInfo {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  const uint8_t* data = nullptr;
  size_t nbytes = 0;
  std::string file;  // where it came from, for error messages

  int64_t numel() const;
  std::string shape_str() const;  // "[37, 512]"
};

// Parses and validates a safetensors image (header JSON, dtypes, shapes, offsets inside the buffer).
// `path` only labels errors. Throws g4::Error on any inconsistency; never reads out of bounds.
std::map<std::string, TensorInfo> parse_safetensors(const uint8_t* data, size_t size, const std::string& path);

class SafetensorsFile {
 public:
  // Readers of references and metadata map the file; the model loader passes the process default.
  static std::unique_ptr<SafetensorsFile> open(const std::string& path, LoadMode mode = LoadMode::Map);
  const std::map<std::string, TensorInfo>& tensors() const { return tensors_; }
  const TensorInfo* find(const std::string& name) const;
  const std::string& path() const { return file_->path(); }

 private:
  std::shared_ptr<MappedFile> file_;
  std::map<std::string, TensorInfo> tensors_;
};

// Reads a tensor of any float dtype into f32 values.
std::vector<float> tensor_to_f32(const TensorInfo& t);
// Reads an integer tensor (I64/I32) into int64 values.
std::vector<int64_t> tensor_to_i64(const TensorInfo& t);

struct TensorToWrite {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  std::vector<uint8_t> bytes;  // raw little-endian data, numel * dtype_size bytes
};
TensorToWrite make_f32_tensor(const std::string& name, std::vector<int64_t> shape, const float* values);

// Writes tensors (sorted by name, 8-byte aligned header) atomically: to path.tmp, then renamed.
void write_safetensors(const std::string& path, const std::vector<TensorToWrite>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

}  // namespace g4
