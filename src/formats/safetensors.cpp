#include "formats/safetensors.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>

#include "core/error.h"
#include "core/json.h"

namespace g4 {

int64_t TensorInfo::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

std::string TensorInfo::shape_str() const {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

namespace {

bool parse_dtype(const std::string& s, DType* out) {
  static const std::map<std::string, DType> names = {
      {"F32", DType::F32}, {"F16", DType::F16}, {"BF16", DType::BF16}, {"I64", DType::I64},
      {"I32", DType::I32}, {"U8", DType::U8},   {"I8", DType::I8},     {"BOOL", DType::BOOL}};
  auto it = names.find(s);
  if (it == names.end()) return false;
  *out = it->second;
  return true;
}

}  // namespace

std::map<std::string, TensorInfo> parse_safetensors(const uint8_t* data, size_t size, const std::string& path) {
  const std::string where = "safetensors file '" + path + "'";
  if (size < 8) throw Error(where + " is truncated: " + std::to_string(size) + " bytes, not even a header size");
  uint64_t header_size = 0;
  for (int i = 7; i >= 0; --i) header_size = (header_size << 8) | data[i];
  if (header_size > size - 8)
    throw Error(where + " is truncated or corrupt: header claims " + std::to_string(header_size) +
                " bytes but the file has " + std::to_string(size - 8) + " after the size field");
  if (header_size > (100u << 20)) throw Error(where + ": header of " + std::to_string(header_size) + " bytes is implausibly large");
  std::string header(reinterpret_cast<const char*>(data + 8), size_t(header_size));
  Json j = parse_json(header, where + " header");
  if (!j.is_object()) throw Error(where + ": header is not a JSON object");
  const uint8_t* base = data + 8 + header_size;
  const size_t data_size = size - 8 - size_t(header_size);
  std::map<std::string, TensorInfo> out;
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (it.key() == "__metadata__") continue;
    const std::string tw = where + ", tensor '" + it.key() + "'";
    const Json& e = it.value();
    if (!e.is_object() || !e.contains("dtype") || !e.contains("shape") || !e.contains("data_offsets"))
      throw Error(tw + ": entry needs dtype, shape and data_offsets");
    if (!e["dtype"].is_string()) throw Error(tw + ": dtype is not a string");
    TensorInfo t;
    t.name = it.key();
    t.file = path;
    if (!parse_dtype(e["dtype"].get<std::string>(), &t.dtype))
      throw Error(tw + ": unsupported dtype '" + e["dtype"].get<std::string>() + "'");
    if (!e["shape"].is_array() || e["shape"].size() > 8) throw Error(tw + ": shape must be an array of at most 8 dims");
    uint64_t numel = 1;
    for (const Json& d : e["shape"]) {
      if (!d.is_number_unsigned()) throw Error(tw + ": shape has a non-integer or negative dimension");
      uint64_t v = d.get<uint64_t>();
      if (v > (1ull << 40) || (v && numel > (1ull << 42) / v)) throw Error(tw + ": shape is implausibly large");
      numel *= v;
      t.shape.push_back(int64_t(v));
    }
    const Json& off = e["data_offsets"];
    if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() || !off[1].is_number_unsigned())
      throw Error(tw + ": data_offsets must be two non-negative integers");
    uint64_t b = off[0].get<uint64_t>(), en = off[1].get<uint64_t>();
    if (b > en || en > data_size)
      throw Error(tw + ": data [" + std::to_string(b) + ", " + std::to_string(en) + ") lies outside the " +
                  std::to_string(data_size) + " data bytes (file truncated?)");
    if (en - b != numel * dtype_size(t.dtype))
      throw Error(tw + ": " + std::to_string(en - b) + " bytes do not match shape " + t.shape_str() + " of " +
                  dtype_name(t.dtype));
    t.data = base + b;
    t.nbytes = size_t(en - b);
    out.emplace(t.name, std::move(t));
  }
  return out;
}

std::unique_ptr<SafetensorsFile> SafetensorsFile::open(const std::string& path, LoadMode mode) {
  auto f = std::unique_ptr<SafetensorsFile>(new SafetensorsFile());
  f->file_ = MappedFile::open(path, mode);
  f->tensors_ = parse_safetensors(f->file_->data(), f->file_->size(), path);
  return f;
}

const TensorInfo* SafetensorsFile::find(const std::string& name) const {
  auto it = tensors_.find(name);
  return it == tensors_.end() ? nullptr : &it->second;
}

std::vector<float> tensor_to_f32(const TensorInfo& t) {
  std::vector<float> out(size_t(t.numel()));
  for (size_t i = 0; i < out.size(); ++i) {
    switch (t.dtype) {
      case DType::F32: std::memcpy(&out[i], t.data + 4 * i, 4); break;
      case DType::BF16: { uint16_t h; std::memcpy(&h, t.data + 2 * i, 2); out[i] = bf16_to_f32(h); break; }
      case DType::F16: { uint16_t h; std::memcpy(&h, t.data + 2 * i, 2); out[i] = f16_to_f32(h); break; }
      default: throw Error("tensor '" + t.name + "' in '" + t.file + "' is " + dtype_name(t.dtype) + ", expected a float type");
    }
  }
  return out;
}

std::vector<int64_t> tensor_to_i64(const TensorInfo& t) {
  std::vector<int64_t> out(size_t(t.numel()));
  for (size_t i = 0; i < out.size(); ++i) {
    if (t.dtype == DType::I64) {
      std::memcpy(&out[i], t.data + 8 * i, 8);
    } else if (t.dtype == DType::I32) {
      int32_t v;
      std::memcpy(&v, t.data + 4 * i, 4);
      out[i] = v;
    } else {
      throw Error("tensor '" + t.name + "' in '" + t.file + "' is " + dtype_name(t.dtype) + ", expected an integer type");
    }
  }
  return out;
}

TensorToWrite make_f32_tensor(const std::string& name, std::vector<int64_t> shape, const float* values) {
  TensorToWrite t{name, DType::F32, std::move(shape), {}};
  int64_t n = 1;
  for (int64_t d : t.shape) n *= d;
  t.bytes.resize(size_t(n) * 4);
  std::memcpy(t.bytes.data(), values, t.bytes.size());
  return t;
}

void write_safetensors(const std::string& path, const std::vector<TensorToWrite>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  std::vector<const TensorToWrite*> sorted;
  for (const auto& t : tensors) sorted.push_back(&t);
  std::sort(sorted.begin(), sorted.end(), [](auto* a, auto* b) { return a->name < b->name; });
  Json header = Json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  uint64_t offset = 0;
  for (const auto* t : sorted) {
    header[t->name] = {{"dtype", dtype_name(t->dtype)}, {"shape", t->shape}, {"data_offsets", {offset, offset + t->bytes.size()}}};
    offset += t->bytes.size();
  }
  std::string h = header.dump();
  while ((h.size() + 8) % 8 != 0) h.push_back(' ');
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw Error("cannot write '" + tmp + "'");
    uint64_t n = h.size();
    uint8_t size_le[8];
    for (int i = 0; i < 8; ++i) size_le[i] = uint8_t(n >> (8 * i));
    out.write(reinterpret_cast<const char*>(size_le), 8);
    out.write(h.data(), std::streamsize(h.size()));
    for (const auto* t : sorted) out.write(reinterpret_cast<const char*>(t->bytes.data()), std::streamsize(t->bytes.size()));
    if (!out) throw Error("writing '" + tmp + "' failed (disk full?)");
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) throw Error("cannot rename '" + tmp + "' to '" + path + "'");
}

}  // namespace g4
