#include "formats/gguf.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "core/error.h"

namespace g4 {

// ---------------------------------------------------------------------------------------------
// Types

const char* gguf_type_name(GgufType t) {
  switch (t) {
    case GgufType::U8: return "u8";
    case GgufType::I8: return "i8";
    case GgufType::U16: return "u16";
    case GgufType::I16: return "i16";
    case GgufType::U32: return "u32";
    case GgufType::I32: return "i32";
    case GgufType::F32: return "f32";
    case GgufType::BOOL: return "bool";
    case GgufType::STRING: return "string";
    case GgufType::ARRAY: return "array";
    case GgufType::U64: return "u64";
    case GgufType::I64: return "i64";
    case GgufType::F64: return "f64";
  }
  return "unknown";
}

bool gguf_type_is_integer(GgufType t) {
  switch (t) {
    case GgufType::U8: case GgufType::I8: case GgufType::U16: case GgufType::I16: case GgufType::U32:
    case GgufType::I32: case GgufType::U64: case GgufType::I64:
      return true;
    default:
      return false;
  }
}

static bool gguf_type_is_signed(GgufType t) {
  return t == GgufType::I8 || t == GgufType::I16 || t == GgufType::I32 || t == GgufType::I64;
}

size_t gguf_scalar_size(GgufType t) {
  switch (t) {
    case GgufType::U8: case GgufType::I8: case GgufType::BOOL: return 1;
    case GgufType::U16: case GgufType::I16: return 2;
    case GgufType::U32: case GgufType::I32: case GgufType::F32: return 4;
    case GgufType::U64: case GgufType::I64: case GgufType::F64: return 8;
    default: return 0;
  }
}

static bool gguf_type_valid(uint32_t t) { return t <= uint32_t(GgufType::F64); }

// Reads a scalar of type t (little-endian) from p.
static uint64_t load_bits(const uint8_t* p, size_t n) {
  uint64_t v = 0;
  std::memcpy(&v, p, n);  // little-endian hosts only (x86-64, aarch64)
  return v;
}

static int64_t bits_to_i64(uint64_t bits, GgufType t) {
  switch (t) {
    case GgufType::I8: return int8_t(uint8_t(bits));
    case GgufType::I16: return int16_t(uint16_t(bits));
    case GgufType::I32: return int32_t(uint32_t(bits));
    case GgufType::I64: return int64_t(bits);
    default: return int64_t(bits);
  }
}

static double bits_to_f64(uint64_t bits, GgufType t) {
  if (t == GgufType::F32) {
    float f;
    uint32_t b = uint32_t(bits);
    std::memcpy(&f, &b, 4);
    return f;
  }
  if (t == GgufType::F64) {
    double d;
    std::memcpy(&d, &bits, 8);
    return d;
  }
  if (gguf_type_is_signed(t)) return double(bits_to_i64(bits, t));
  return double(bits);
}

// ---------------------------------------------------------------------------------------------
// GgufValue

int64_t GgufValue::as_i64(const std::string& what) const {
  if (type == GgufType::BOOL) return int64_t(bits_ & 1);
  if (!is_integer()) throw Error(what + " is a " + gguf_type_name(type) + ", expected an integer");
  if (type == GgufType::U64 && bits_ > uint64_t(std::numeric_limits<int64_t>::max()))
    throw Error(what + " = " + std::to_string(bits_) + " does not fit in a signed 64-bit integer");
  return bits_to_i64(bits_, type);
}

uint64_t GgufValue::as_u64(const std::string& what) const {
  if (type == GgufType::BOOL) return bits_ & 1;
  if (!is_integer()) throw Error(what + " is a " + gguf_type_name(type) + ", expected an integer");
  if (gguf_type_is_signed(type)) {
    int64_t v = bits_to_i64(bits_, type);
    if (v < 0) throw Error(what + " = " + std::to_string(v) + " is negative, expected a non-negative integer");
    return uint64_t(v);
  }
  return bits_;
}

double GgufValue::as_f64(const std::string& what) const {
  if (is_integer() || is_float()) return bits_to_f64(bits_, type);
  throw Error(what + " is a " + gguf_type_name(type) + ", expected a number");
}

bool GgufValue::as_bool(const std::string& what) const {
  if (type == GgufType::BOOL) return bits_ != 0;
  if (is_integer()) {
    uint64_t v = as_u64(what);
    if (v <= 1) return v == 1;
  }
  throw Error(what + " is a " + gguf_type_name(type) + ", expected a bool");
}

std::string_view GgufValue::as_string(const std::string& what) const {
  if (type != GgufType::STRING) throw Error(what + " is a " + std::string(gguf_type_name(type)) + ", expected a string");
  return str_;
}

int64_t GgufValue::int_at(uint64_t i) const {
  if (type != GgufType::ARRAY || !(gguf_type_is_integer(elem_type_) || elem_type_ == GgufType::BOOL))
    throw Error("int_at on a value that is not an integer array");
  if (i >= count_) throw Error("array index " + std::to_string(i) + " out of range");
  size_t n = gguf_scalar_size(elem_type_);
  return bits_to_i64(load_bits(raw_ + i * n, n), elem_type_);
}

double GgufValue::float_at(uint64_t i) const {
  if (type != GgufType::ARRAY || gguf_scalar_size(elem_type_) == 0)
    throw Error("float_at on a value that is not a numeric array");
  if (i >= count_) throw Error("array index " + std::to_string(i) + " out of range");
  size_t n = gguf_scalar_size(elem_type_);
  return bits_to_f64(load_bits(raw_ + i * n, n), elem_type_);
}

std::string GgufValue::to_string(size_t max_items) const {
  auto quote = [](std::string_view s) {
    std::string out = "\"";
    for (char c : s.substr(0, 200)) {
      if (c == '\n') out += "\\n";
      else if (c == '"') out += "\\\"";
      else out += c;
    }
    if (s.size() > 200) out += "...";
    return out + "\"";
  };
  switch (type) {
    case GgufType::STRING: return quote(str_);
    case GgufType::BOOL: return bits_ ? "true" : "false";
    case GgufType::F32: case GgufType::F64: {
      char buf[64];
      std::snprintf(buf, sizeof buf, "%g", bits_to_f64(bits_, type));
      return buf;
    }
    case GgufType::ARRAY: {
      std::string out = std::string(gguf_type_name(elem_type_)) + "[" + std::to_string(count_) + "] [";
      for (uint64_t i = 0; i < count_ && i < max_items; ++i) {
        if (i) out += ", ";
        if (elem_type_ == GgufType::STRING) out += quote(strings_[i]);
        else if (elem_type_ == GgufType::ARRAY) out += items_[i].to_string(max_items);
        else if (elem_type_ == GgufType::F32 || elem_type_ == GgufType::F64) {
          char buf[64];
          std::snprintf(buf, sizeof buf, "%g", float_at(i));
          out += buf;
        } else if (elem_type_ == GgufType::BOOL) out += int_at(i) ? "true" : "false";
        else if (elem_type_ == GgufType::U64) out += std::to_string(uint64_t(int_at(i)));
        else out += std::to_string(int_at(i));
      }
      if (count_ > max_items) out += ", ...";
      return out + "]";
    }
    case GgufType::U64: return std::to_string(bits_);
    default: return std::to_string(bits_to_i64(bits_, type));
  }
}

#define G4_GGUF_SCALAR(fn, T, GT, BITS)  \
  GgufValue GgufValue::fn(T v) {          \
    GgufValue o;                          \
    o.type = GgufType::GT;                \
    o.bits_ = (BITS);                     \
    return o;                             \
  }
G4_GGUF_SCALAR(u8, uint8_t, U8, v)
G4_GGUF_SCALAR(i8, int8_t, I8, uint8_t(v))
G4_GGUF_SCALAR(u16, uint16_t, U16, v)
G4_GGUF_SCALAR(i16, int16_t, I16, uint16_t(v))
G4_GGUF_SCALAR(u32, uint32_t, U32, v)
G4_GGUF_SCALAR(i32, int32_t, I32, uint32_t(v))
G4_GGUF_SCALAR(u64, uint64_t, U64, v)
G4_GGUF_SCALAR(i64, int64_t, I64, uint64_t(v))
G4_GGUF_SCALAR(boolean, bool, BOOL, v ? 1u : 0u)
#undef G4_GGUF_SCALAR

GgufValue GgufValue::f32(float v) {
  uint32_t b;
  std::memcpy(&b, &v, 4);
  GgufValue o;
  o.type = GgufType::F32;
  o.bits_ = b;
  return o;
}
GgufValue GgufValue::f64(double v) {
  GgufValue o;
  o.type = GgufType::F64;
  std::memcpy(&o.bits_, &v, 8);
  return o;
}

GgufValue GgufValue::string(std::string v) {
  GgufValue out;
  out.type = GgufType::STRING;
  auto s = std::make_shared<std::string>(std::move(v));
  out.str_ = *s;
  out.owned_ = s;
  return out;
}

GgufValue GgufValue::int_array(GgufType elem, const std::vector<int64_t>& values) {
  size_t n = gguf_scalar_size(elem);
  if (n == 0 || elem == GgufType::F32 || elem == GgufType::F64)
    throw Error(std::string("int_array: element type must be an integer or bool type, not ") + gguf_type_name(elem));
  auto buf = std::make_shared<std::string>(values.size() * n, '\0');
  for (size_t i = 0; i < values.size(); ++i) std::memcpy(buf->data() + i * n, &values[i], n);
  GgufValue out;
  out.type = GgufType::ARRAY;
  out.elem_type_ = elem;
  out.count_ = values.size();
  out.raw_ = reinterpret_cast<const uint8_t*>(buf->data());
  out.owned_ = buf;
  return out;
}

GgufValue GgufValue::float_array(GgufType elem, const std::vector<double>& values) {
  if (elem != GgufType::F32 && elem != GgufType::F64)
    throw Error(std::string("float_array: element type must be f32 or f64, not ") + gguf_type_name(elem));
  size_t n = gguf_scalar_size(elem);
  auto buf = std::make_shared<std::string>(values.size() * n, '\0');
  for (size_t i = 0; i < values.size(); ++i) {
    if (elem == GgufType::F32) {
      float f = float(values[i]);
      std::memcpy(buf->data() + i * 4, &f, 4);
    } else {
      std::memcpy(buf->data() + i * 8, &values[i], 8);
    }
  }
  GgufValue out;
  out.type = GgufType::ARRAY;
  out.elem_type_ = elem;
  out.count_ = values.size();
  out.raw_ = reinterpret_cast<const uint8_t*>(buf->data());
  out.owned_ = buf;
  return out;
}

GgufValue GgufValue::string_array(const std::vector<std::string>& values) {
  auto buf = std::make_shared<std::vector<std::string>>(values);
  GgufValue out;
  out.type = GgufType::ARRAY;
  out.elem_type_ = GgufType::STRING;
  out.count_ = values.size();
  out.strings_.assign(buf->begin(), buf->end());
  out.owned_ = buf;
  return out;
}

GgufValue GgufValue::array_of_arrays(std::vector<GgufValue> arrays) {
  for (const auto& a : arrays)
    if (!a.is_array()) throw Error("array_of_arrays: every element must be an array");
  GgufValue out;
  out.type = GgufType::ARRAY;
  out.elem_type_ = GgufType::ARRAY;
  out.count_ = arrays.size();
  out.items_ = std::move(arrays);
  return out;
}

int64_t GgufTensor::numel() const {
  int64_t n = 1;
  for (int64_t d : ne) n *= d;
  return n;
}

std::string GgufTensor::shape_str() const {
  std::string s = "[";
  for (size_t i = 0; i < ne.size(); ++i) s += (i ? ", " : "") + std::to_string(ne[i]);
  return s + "]";
}

// ---------------------------------------------------------------------------------------------
// Parser

class GgufParser {
 public:
  GgufParser(const uint8_t* data, size_t size, const std::string& path) : p_(data), size_(size), path_(path) {}

  [[noreturn]] void fail(const std::string& what) const {
    throw Error("GGUF file '" + path_ + "': " + what + " (at byte " + std::to_string(pos_) +
                " of " + std::to_string(size_) + "); the file is truncated or corrupt: re-download or re-convert it");
  }

  size_t remaining() const { return size_ - pos_; }

  void need(size_t n, const char* what) {
    if (n > remaining())
      fail(std::string("unexpected end of file while reading ") + what + " (" + std::to_string(n) +
           " bytes needed, " + std::to_string(remaining()) + " left)");
  }

  uint32_t u32(const char* what) {
    need(4, what);
    uint32_t v = uint32_t(load_bits(p_ + pos_, 4));
    pos_ += 4;
    return v;
  }
  uint64_t u64(const char* what) {
    need(8, what);
    uint64_t v = load_bits(p_ + pos_, 8);
    pos_ += 8;
    return v;
  }
  std::string_view str(const char* what) {
    uint64_t n = u64(what);
    if (n > remaining())
      fail(std::string(what) + " has length " + std::to_string(n) + ", beyond the end of the file");
    std::string_view s(reinterpret_cast<const char*>(p_ + pos_), size_t(n));
    pos_ += size_t(n);
    return s;
  }

  GgufType value_type(const char* what) {
    uint32_t t = u32(what);
    if (!gguf_type_valid(t)) fail(std::string("unknown value type id ") + std::to_string(t) + " for " + what);
    return GgufType(t);
  }

  GgufValue value(GgufType t, const std::string& key, int depth) {
    GgufValue v;
    v.type = t;
    if (t == GgufType::STRING) {
      v.str_ = str("string value");
      return v;
    }
    if (t != GgufType::ARRAY) {
      size_t n = gguf_scalar_size(t);
      need(n, "a metadata value");
      v.bits_ = load_bits(p_ + pos_, n);
      pos_ += n;
      if (t == GgufType::BOOL && v.bits_ > 1) fail("bool value of '" + key + "' is " + std::to_string(v.bits_) + ", not 0 or 1");
      return v;
    }
    if (depth >= 8) fail("arrays nested more than 8 deep in '" + key + "'");
    GgufType et = value_type("an array element type");
    uint64_t count = u64("an array length");
    v.elem_type_ = et;
    v.count_ = count;
    size_t min_elem = et == GgufType::STRING ? 8 : et == GgufType::ARRAY ? 12 : gguf_scalar_size(et);
    if (count > remaining() / min_elem)
      fail("array '" + key + "' claims " + std::to_string(count) + " elements of type " + gguf_type_name(et) +
           ", more than the rest of the file can hold");
    if (et == GgufType::STRING) {
      v.strings_.reserve(size_t(count));
      for (uint64_t i = 0; i < count; ++i) v.strings_.push_back(str("an array string"));
    } else if (et == GgufType::ARRAY) {
      v.items_.reserve(size_t(count));
      for (uint64_t i = 0; i < count; ++i) v.items_.push_back(value(GgufType::ARRAY, key, depth + 1));
    } else {
      size_t bytes = size_t(count) * min_elem;
      v.raw_ = p_ + pos_;
      if (et == GgufType::BOOL)
        for (size_t i = 0; i < bytes; ++i)
          if (v.raw_[i] > 1) fail("bool array '" + key + "' holds the value " + std::to_string(v.raw_[i]));
      pos_ += bytes;
    }
    return v;
  }

  void parse(GgufFile& f) {
    need(4, "the magic");
    if (std::memcmp(p_, "GGUF", 4) != 0) {
      pos_ = 0;
      fail("not a GGUF file (it does not start with the bytes \"GGUF\")");
    }
    pos_ = 4;
    f.version_ = u32("the version");
    if (f.version_ == 1) fail("GGUF version 1 is not supported (only 2 and 3); re-convert the model with a current llama.cpp");
    if (f.version_ < 2 || f.version_ > 3)
      fail("unsupported GGUF version " + std::to_string(f.version_) + " (this reader handles versions 2 and 3)");
    uint64_t n_tensors = u64("the tensor count");
    uint64_t n_kv = u64("the metadata count");
    // A key/value pair takes at least 13 bytes and a tensor info at least 24: reject absurd counts early.
    if (n_kv > remaining() / 13) fail("metadata count " + std::to_string(n_kv) + " is larger than the file can hold");
    if (n_tensors > remaining() / 24) fail("tensor count " + std::to_string(n_tensors) + " is larger than the file can hold");

    for (uint64_t i = 0; i < n_kv; ++i) {
      std::string key(str("a metadata key"));
      if (key.empty()) fail("metadata key " + std::to_string(i) + " is empty");
      GgufType t = value_type("a metadata value type");
      GgufValue v = value(t, key, 0);
      if (f.kv_.count(key)) fail("metadata key '" + key + "' appears twice");
      f.key_order_.push_back(key);
      f.kv_.emplace(std::move(key), std::move(v));
    }

    if (const GgufValue* a = f.find("general.alignment")) {
      if (!a->is_integer()) fail(std::string("general.alignment is a ") + gguf_type_name(a->type) + ", expected u32");
      uint64_t al = a->as_u64("general.alignment");
      if (al == 0 || (al & (al - 1)) != 0 || al > (1u << 30))
        fail("general.alignment = " + std::to_string(al) + " is not a power of two");
      f.alignment_ = size_t(al);
    }

    f.tensors_.reserve(size_t(n_tensors));
    for (uint64_t i = 0; i < n_tensors; ++i) {
      GgufTensor t;
      t.name = std::string(str("a tensor name"));
      if (t.name.empty()) fail("tensor " + std::to_string(i) + " has an empty name");
      uint32_t n_dims = u32("a tensor's dimension count");
      if (n_dims > 4) fail("tensor '" + t.name + "' has " + std::to_string(n_dims) + " dimensions (at most 4)");
      int64_t numel = 1;
      for (uint32_t d = 0; d < n_dims; ++d) {
        uint64_t n = u64("a tensor dimension");
        if (n > uint64_t(1) << 50) fail("tensor '" + t.name + "' has an absurd dimension " + std::to_string(n));
        t.ne.push_back(int64_t(n));
        if (n != 0 && numel > std::numeric_limits<int64_t>::max() / int64_t(n))
          fail("tensor '" + t.name + "' has too many elements " + t.shape_str());
        numel *= int64_t(n);
      }
      t.ggml_type = u32("a tensor type");
      t.offset = u64("a tensor offset");
      const GgmlTypeInfo* info = ggml_type_info(t.ggml_type);
      if (!info) fail("tensor '" + t.name + "' has unknown ggml type id " + std::to_string(t.ggml_type));
      t.supported = info->computable;
      const int64_t be = info->block_elems, bb = info->block_bytes;
      int64_t ne0 = t.ne.empty() ? 1 : t.ne[0];
      if (ne0 % be != 0)
        fail("tensor '" + t.name + "' of type " + info->name + " has a first dimension " + std::to_string(ne0) +
             " that is not a multiple of its block size " + std::to_string(be));
      uint64_t blocks = uint64_t(numel / be);
      if (bb != 0 && blocks > uint64_t(std::numeric_limits<int64_t>::max()) / uint64_t(bb))
        fail("tensor '" + t.name + "' is too large " + t.shape_str());
      t.nbytes = size_t(blocks * uint64_t(bb));
      if (f.tensor_index_.count(t.name)) fail("tensor name '" + t.name + "' appears twice");
      f.tensor_index_.emplace(t.name, f.tensors_.size());
      f.tensors_.push_back(std::move(t));
    }

    size_t data_off = pos_;
    if (n_tensors > 0) {
      data_off = (pos_ + f.alignment_ - 1) / f.alignment_ * f.alignment_;
      if (data_off > size_) {
        pos_ = size_;
        fail("the file ends before its data section (expected at byte " + std::to_string(data_off) + ")");
      }
    }
    f.data_offset_ = data_off;
    pos_ = data_off;
    const size_t data_size = size_ - data_off;

    std::vector<const GgufTensor*> by_offset;
    by_offset.reserve(f.tensors_.size());
    for (GgufTensor& t : f.tensors_) {
      if (t.offset % f.alignment_ != 0)
        fail("tensor '" + t.name + "' starts at data offset " + std::to_string(t.offset) +
             ", which is not a multiple of the alignment " + std::to_string(f.alignment_));
      if (t.offset > data_size || t.nbytes > data_size - t.offset)
        fail("tensor '" + t.name + "' " + t.shape_str() + " " + ggml_type_name(t.ggml_type) + " (" +
             std::to_string(t.nbytes) + " bytes at data offset " + std::to_string(t.offset) +
             ") extends beyond the end of the file (data section is " + std::to_string(data_size) + " bytes)");
      t.data = p_ + data_off + t.offset;
      by_offset.push_back(&t);
    }
    std::sort(by_offset.begin(), by_offset.end(),
              [](const GgufTensor* a, const GgufTensor* b) { return a->offset < b->offset; });
    for (size_t i = 1; i < by_offset.size(); ++i) {
      const GgufTensor* a = by_offset[i - 1];
      const GgufTensor* b = by_offset[i];
      if (a->offset + a->nbytes > b->offset)
        fail("tensors '" + a->name + "' and '" + b->name + "' overlap in the data section");
    }
  }

 private:
  const uint8_t* p_;
  size_t size_;
  size_t pos_ = 0;
  const std::string& path_;
};

// ---------------------------------------------------------------------------------------------
// GgufFile

std::unique_ptr<GgufFile> GgufFile::parse(const uint8_t* data, size_t size, const std::string& path) {
  std::unique_ptr<GgufFile> f(new GgufFile());
  f->path_ = path;
  GgufParser parser(data, size, path);
  parser.parse(*f);
  return f;
}

std::unique_ptr<GgufFile> GgufFile::open(const std::string& path, LoadMode mode) {
  auto file = MappedFile::open(path, mode);
  auto f = parse(file->data(), file->size(), path);
  f->file_ = std::move(file);
  return f;
}

const GgufValue* GgufFile::find(const std::string& key) const {
  auto it = kv_.find(key);
  return it == kv_.end() ? nullptr : &it->second;
}

const GgufValue& GgufFile::get(const std::string& key) const {
  const GgufValue* v = find(key);
  if (!v) throw Error("GGUF file '" + path_ + "' has no metadata key '" + key + "'");
  return *v;
}

static std::string what_key(const std::string& path, const std::string& key) {
  return "metadata '" + key + "' in '" + path + "'";
}

std::string GgufFile::get_string(const std::string& key) const {
  return std::string(get(key).as_string(what_key(path_, key)));
}

uint32_t GgufFile::get_u32(const std::string& key) const {
  uint64_t v = get(key).as_u64(what_key(path_, key));
  if (v > std::numeric_limits<uint32_t>::max())
    throw Error(what_key(path_, key) + " = " + std::to_string(v) + " does not fit in 32 bits");
  return uint32_t(v);
}

int64_t GgufFile::get_i64(const std::string& key) const { return get(key).as_i64(what_key(path_, key)); }
uint64_t GgufFile::get_u64(const std::string& key) const { return get(key).as_u64(what_key(path_, key)); }
// A float key must hold a float: an integer or anything else there is a file written wrongly, refused by
// name rather than reinterpreted (llama.cpp refuses it too).
float GgufFile::get_f32(const std::string& key) const {
  const GgufValue& v = get(key);
  if (!v.is_float())
    throw Error(what_key(path_, key) + " is " + (v.is_array() ? "an array" : std::string("a ") + gguf_type_name(v.type)) +
                ", expected a float (f32)");
  return float(v.as_f64(what_key(path_, key)));
}
bool GgufFile::get_bool(const std::string& key) const { return get(key).as_bool(what_key(path_, key)); }

std::string GgufFile::get_string(const std::string& key, const std::string& def) const {
  return has(key) ? get_string(key) : def;
}
uint32_t GgufFile::get_u32(const std::string& key, uint32_t def) const { return has(key) ? get_u32(key) : def; }
int64_t GgufFile::get_i64(const std::string& key, int64_t def) const { return has(key) ? get_i64(key) : def; }
float GgufFile::get_f32(const std::string& key, float def) const { return has(key) ? get_f32(key) : def; }
bool GgufFile::get_bool(const std::string& key, bool def) const { return has(key) ? get_bool(key) : def; }

std::vector<std::string_view> GgufFile::get_array_strings(const std::string& key) const {
  const GgufValue& v = get(key);
  if (!v.is_array() || v.elem_type() != GgufType::STRING)
    throw Error(what_key(path_, key) + " is not an array of strings");
  return v.strings();
}

std::vector<int64_t> GgufFile::get_array_ints(const std::string& key) const {
  const GgufValue& v = get(key);
  if (!v.is_array() || !(gguf_type_is_integer(v.elem_type()) || v.elem_type() == GgufType::BOOL))
    throw Error(what_key(path_, key) + " is not an array of integers");
  std::vector<int64_t> out(size_t(v.size()));
  for (uint64_t i = 0; i < v.size(); ++i) out[i] = v.int_at(i);
  return out;
}

std::vector<float> GgufFile::get_array_floats(const std::string& key) const {
  const GgufValue& v = get(key);
  if (!v.is_array() || (v.elem_type() != GgufType::F32 && v.elem_type() != GgufType::F64))
    throw Error(what_key(path_, key) + " is " +
                (v.is_array() ? std::string("an array of ") + gguf_type_name(v.elem_type())
                              : std::string("a ") + gguf_type_name(v.type)) +
                ", expected an array of f32");
  std::vector<float> out(size_t(v.size()));
  for (uint64_t i = 0; i < v.size(); ++i) out[i] = float(v.float_at(i));
  return out;
}

const GgufTensor* GgufFile::find_tensor(const std::string& name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

void GgufFile::require_supported(const GgufTensor& t) const {
  if (t.supported) return;
  throw Error("tensor '" + t.name + "' in '" + path_ + "' is stored as " + ggml_type_name(t.ggml_type) +
              ", which gemma4 cannot compute with; it computes with " + ggml_computable_type_names());
}

}  // namespace g4
