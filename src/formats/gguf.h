#pragma once
// GGUF (versions 2 and 3): a memory-mapped, fully validated reader.
//
// Layout (little-endian): "GGUF", u32 version, u64 tensor count, u64 metadata count, the metadata
// key/value pairs, the tensor info table (name, u32 n_dims, u64 ne[n_dims], u32 ggml type, u64 offset),
// padding to `general.alignment` (default 32), then the data section. Tensor offsets are relative to
// the data section and aligned. Every read is bounds-checked: a truncated or corrupt file gives a
// g4::Error naming the file and the problem, never a crash or an allocation larger than the file.
//
//   auto gguf = GgufFile::open("model.gguf");
//   std::string arch = gguf->get_string("general.architecture");
//   uint32_t layers = gguf->get_u32(arch + ".block_count");
//   const GgufTensor* emb = gguf->find_tensor("token_embd.weight");
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/ggml_types.h"
#include "core/mapped_file.h"

namespace g4 {

// Value types of GGUF metadata (the numbering of the file format).
enum class GgufType : uint32_t {
  U8 = 0, I8 = 1, U16 = 2, I16 = 3, U32 = 4, I32 = 5, F32 = 6, BOOL = 7,
  STRING = 8, ARRAY = 9, U64 = 10, I64 = 11, F64 = 12,
};
const char* gguf_type_name(GgufType t);
bool gguf_type_is_integer(GgufType t);
size_t gguf_scalar_size(GgufType t);  // 0 for STRING and ARRAY

// One metadata value. Strings and arrays usually point into the mapped file (valid while the
// GgufFile lives); values made by the factories below own their storage.
class GgufValue {
 public:
  GgufType type = GgufType::U8;

  // Scalars. Integers (and BOOL) can be read as any width; the accessor throws when the value does
  // not fit. `what` names the value in error messages.
  bool is_integer() const { return gguf_type_is_integer(type); }
  bool is_float() const { return type == GgufType::F32 || type == GgufType::F64; }
  int64_t as_i64(const std::string& what = "value") const;
  uint64_t as_u64(const std::string& what = "value") const;
  double as_f64(const std::string& what = "value") const;  // any number
  bool as_bool(const std::string& what = "value") const;   // BOOL or an integer 0/1
  std::string_view as_string(const std::string& what = "value") const;

  // Arrays.
  bool is_array() const { return type == GgufType::ARRAY; }
  GgufType elem_type() const { return elem_type_; }
  uint64_t size() const { return count_; }                   // element count (arrays)
  int64_t int_at(uint64_t i) const;                          // integer arrays
  double float_at(uint64_t i) const;                         // numeric arrays
  std::string_view string_at(uint64_t i) const { return strings_[i]; }  // string arrays
  const GgufValue& array_at(uint64_t i) const { return items_[i]; }     // arrays of arrays
  const uint8_t* raw_data() const { return raw_; }           // scalar arrays: packed elements
  const std::vector<std::string_view>& strings() const { return strings_; }

  std::string to_string(size_t max_items = 8) const;  // short human-readable rendering

  // Factories for values that own their data (used to build files with GgufWriter).
  static GgufValue u8(uint8_t v);
  static GgufValue i8(int8_t v);
  static GgufValue u16(uint16_t v);
  static GgufValue i16(int16_t v);
  static GgufValue u32(uint32_t v);
  static GgufValue i32(int32_t v);
  static GgufValue u64(uint64_t v);
  static GgufValue i64(int64_t v);
  static GgufValue f32(float v);
  static GgufValue f64(double v);
  static GgufValue boolean(bool v);
  static GgufValue string(std::string v);
  // An array of scalars of type `elem` (any scalar type but STRING/ARRAY) from integer or float values.
  static GgufValue int_array(GgufType elem, const std::vector<int64_t>& values);
  static GgufValue float_array(GgufType elem, const std::vector<double>& values);  // F32 or F64
  static GgufValue string_array(const std::vector<std::string>& values);
  static GgufValue array_of_arrays(std::vector<GgufValue> arrays);  // each element must be an array

 private:
  friend class GgufParser;
  uint64_t bits_ = 0;  // scalar payload, little-endian, zero-extended
  std::string_view str_;
  GgufType elem_type_ = GgufType::U8;
  uint64_t count_ = 0;
  const uint8_t* raw_ = nullptr;
  std::vector<std::string_view> strings_;
  std::vector<GgufValue> items_;
  std::shared_ptr<const void> owned_;  // keeps factory-made data alive
};

struct GgufTensor {
  std::string name;
  uint32_t ggml_type = 0;
  std::vector<int64_t> ne;    // dims in GGUF order: ne[0] is the contiguous (innermost) dimension
  uint64_t offset = 0;        // relative to the data section
  const uint8_t* data = nullptr;
  size_t nbytes = 0;
  bool supported = false;     // the engine can compute with this type (GgmlTypeInfo::computable)

  int64_t numel() const;
  std::string shape_str() const;  // "[4096, 262144]"
  std::string type_name() const { return ggml_type_name(ggml_type); }
};

class GgufFile {
 public:
  // Metadata readers map the file (LoadMode::Map); the model loader passes the process default.
  static std::unique_ptr<GgufFile> open(const std::string& path, LoadMode mode = LoadMode::Map);
  // Parses an image already in memory (which must outlive the result). `path` labels errors.
  static std::unique_ptr<GgufFile> parse(const uint8_t* data, size_t size, const std::string& path);

  const std::string& path() const { return path_; }
  uint32_t version() const { return version_; }
  size_t alignment() const { return alignment_; }
  size_t data_offset() const { return data_offset_; }  // file offset of the data section

  // Metadata.
  bool has(const std::string& key) const { return kv_.count(key) != 0; }
  const GgufValue* find(const std::string& key) const;
  const GgufValue& get(const std::string& key) const;  // throws naming the key and file when absent
  const std::vector<std::string>& keys() const { return key_order_; }  // in file order
  std::string get_string(const std::string& key) const;
  uint32_t get_u32(const std::string& key) const;  // any integer type whose value fits
  int64_t get_i64(const std::string& key) const;
  uint64_t get_u64(const std::string& key) const;
  float get_f32(const std::string& key) const;     // f32 or f64 (an integer there is an error naming the key)
  bool get_bool(const std::string& key) const;
  // With defaults, for optional keys (a present key of the wrong type still throws).
  std::string get_string(const std::string& key, const std::string& def) const;
  uint32_t get_u32(const std::string& key, uint32_t def) const;
  int64_t get_i64(const std::string& key, int64_t def) const;
  float get_f32(const std::string& key, float def) const;
  bool get_bool(const std::string& key, bool def) const;
  // Arrays (throw when the key is absent or not an array of that kind).
  std::vector<std::string_view> get_array_strings(const std::string& key) const;
  std::vector<int64_t> get_array_ints(const std::string& key) const;
  std::vector<float> get_array_floats(const std::string& key) const;  // arrays of f32 or f64 only

  // Tensors, in file order.
  const std::vector<GgufTensor>& tensors() const { return tensors_; }
  const GgufTensor* find_tensor(const std::string& name) const;
  // Throws a clear g4::Error when the engine cannot compute with `t`'s type.
  void require_supported(const GgufTensor& t) const;

 private:
  friend class GgufParser;
  GgufFile() = default;
  std::shared_ptr<MappedFile> file_;
  std::string path_;
  uint32_t version_ = 0;
  size_t alignment_ = 32;
  size_t data_offset_ = 0;
  std::map<std::string, GgufValue> kv_;
  std::vector<std::string> key_order_;
  std::vector<GgufTensor> tensors_;
  std::map<std::string, size_t> tensor_index_;
};

}  // namespace g4
