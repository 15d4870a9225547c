#include "formats/gguf_writer.h"

#include <cstdio>
#include <cstring>
#include <fstream>
#include <limits>
#include <set>

#include "core/error.h"

namespace g4 {

namespace {

struct VecSink {
  std::vector<uint8_t>& out;
  void put(const void* p, size_t n) {
    const uint8_t* b = static_cast<const uint8_t*>(p);
    out.insert(out.end(), b, b + n);
  }
  size_t written() const { return out.size(); }
};

struct FileSink {
  std::ofstream& out;
  size_t n = 0;
  void put(const void* p, size_t len) {
    out.write(static_cast<const char*>(p), std::streamsize(len));
    n += len;
  }
  size_t written() const { return n; }
};

template <class Sink>
void put_u32(Sink& s, uint32_t v) { s.put(&v, 4); }
template <class Sink>
void put_u64(Sink& s, uint64_t v) { s.put(&v, 8); }
template <class Sink>
void put_str(Sink& s, std::string_view v) {
  put_u64(s, v.size());
  s.put(v.data(), v.size());
}

template <class Sink>
void put_value_body(Sink& s, const GgufValue& v) {
  switch (v.type) {
    case GgufType::STRING:
      put_str(s, v.as_string());
      return;
    case GgufType::ARRAY: {
      put_u32(s, uint32_t(v.elem_type()));
      put_u64(s, v.size());
      if (v.elem_type() == GgufType::STRING) {
        for (uint64_t i = 0; i < v.size(); ++i) put_str(s, v.string_at(i));
      } else if (v.elem_type() == GgufType::ARRAY) {
        for (uint64_t i = 0; i < v.size(); ++i) put_value_body(s, v.array_at(i));
      } else {
        s.put(v.raw_data(), size_t(v.size()) * gguf_scalar_size(v.elem_type()));
      }
      return;
    }
    case GgufType::F32: {
      float f = float(v.as_f64());
      s.put(&f, 4);
      return;
    }
    case GgufType::F64: {
      double d = v.as_f64();
      s.put(&d, 8);
      return;
    }
    default: {
      // Integers and bool: the low bytes of the two's-complement value.
      uint64_t bits = gguf_type_is_integer(v.type) && v.type != GgufType::U64 ? uint64_t(v.as_i64()) : v.as_u64();
      s.put(&bits, gguf_scalar_size(v.type));
      return;
    }
  }
}

template <class Sink>
void pad_to(Sink& s, size_t alignment) {
  static const uint8_t zeros[256] = {};
  size_t rem = s.written() % alignment;
  if (rem == 0) return;
  size_t n = alignment - rem;
  while (n > 0) {
    size_t k = n < sizeof zeros ? n : sizeof zeros;
    s.put(zeros, k);
    n -= k;
  }
}

size_t pad_size(size_t n, size_t alignment) { return (n + alignment - 1) / alignment * alignment; }

}  // namespace

GgufWriter::GgufWriter(uint32_t alignment) : alignment_(alignment) {
  if (alignment == 0 || (alignment & (alignment - 1)) != 0)
    throw Error("GGUF alignment " + std::to_string(alignment) + " is not a power of two");
  if (alignment != 32) set_u32("general.alignment", alignment);
}

void GgufWriter::set(const std::string& key, GgufValue value) {
  if (key.empty()) throw Error("GGUF metadata keys must not be empty");
  for (auto& kv : kv_)
    if (kv.first == key) {
      kv.second = std::move(value);
      return;
    }
  kv_.emplace_back(key, std::move(value));
}

bool GgufWriter::has(const std::string& key) const {
  for (const auto& kv : kv_)
    if (kv.first == key) return true;
  return false;
}

void GgufWriter::remove(const std::string& key) {
  for (size_t i = 0; i < kv_.size(); ++i)
    if (kv_[i].first == key) {
      kv_.erase(kv_.begin() + long(i));
      return;
    }
}

void GgufWriter::copy_metadata(const GgufFile& src) {
  for (const std::string& key : src.keys())
    if (key != "general.alignment") set(key, src.get(key));
}

size_t GgufWriter::tensor_nbytes(uint32_t ggml_type, const std::vector<int64_t>& ne) {
  const GgmlTypeInfo* info = ggml_type_info(ggml_type);
  if (!info) throw Error("cannot write a tensor of unknown ggml type id " + std::to_string(ggml_type));
  if (ne.size() > 4) throw Error("GGUF tensors have at most 4 dimensions, not " + std::to_string(ne.size()));
  int64_t numel = 1;
  for (int64_t d : ne) {
    if (d < 0) throw Error("negative tensor dimension " + std::to_string(d));
    if (d != 0 && numel > std::numeric_limits<int64_t>::max() / d) throw Error("tensor too large");
    numel *= d;
  }
  int64_t ne0 = ne.empty() ? 1 : ne[0];
  if (ne0 % info->block_elems != 0)
    throw Error(std::string("a ") + info->name + " tensor's first dimension must be a multiple of " +
                std::to_string(info->block_elems) + ", not " + std::to_string(ne0));
  return size_t(numel / info->block_elems) * size_t(info->block_bytes);
}

void GgufWriter::add_tensor(const std::string& name, uint32_t ggml_type, const std::vector<int64_t>& ne,
                            const void* data, size_t nbytes) {
  if (name.empty()) throw Error("GGUF tensor names must not be empty");
  for (const auto& t : tensors_)
    if (t.name == name) throw Error("tensor '" + name + "' added twice to a GGUF file");
  size_t expect = tensor_nbytes(ggml_type, ne);
  if (expect != nbytes)
    throw Error("tensor '" + name + "' of type " + ggml_type_name(ggml_type) + " needs " + std::to_string(expect) +
                " bytes, got " + std::to_string(nbytes));
  tensors_.push_back(Tensor{name, ggml_type, ne, static_cast<const uint8_t*>(data), nbytes, nullptr});
}

void GgufWriter::add_tensor(const std::string& name, uint32_t ggml_type, const std::vector<int64_t>& ne,
                            std::vector<uint8_t> bytes) {
  auto owned = std::make_shared<std::vector<uint8_t>>(std::move(bytes));
  add_tensor(name, ggml_type, ne, owned->data(), owned->size());
  tensors_.back().owned = owned;
}

template <class Sink>
void GgufWriter::emit(Sink& s) const {
  s.put("GGUF", 4);
  put_u32(s, 3);
  put_u64(s, tensors_.size());
  put_u64(s, kv_.size());
  for (const auto& [key, value] : kv_) {
    put_str(s, key);
    put_u32(s, uint32_t(value.type));
    put_value_body(s, value);
  }
  uint64_t offset = 0;
  for (const Tensor& t : tensors_) {
    put_str(s, t.name);
    put_u32(s, uint32_t(t.ne.size()));
    for (int64_t d : t.ne) put_u64(s, uint64_t(d));
    put_u32(s, t.type);
    put_u64(s, offset);
    offset += pad_size(t.nbytes, alignment_);
  }
  if (tensors_.empty()) return;
  pad_to(s, alignment_);
  for (const Tensor& t : tensors_) {
    if (t.nbytes) s.put(t.data, t.nbytes);
    pad_to(s, alignment_);
  }
}

std::vector<uint8_t> GgufWriter::serialize() const {
  std::vector<uint8_t> out;
  VecSink sink{out};
  emit(sink);
  return out;
}

void GgufWriter::write(const std::string& path) const {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw Error("cannot write '" + tmp + "' (does the folder exist and is it writable?)");
    FileSink sink{out};
    emit(sink);
    out.flush();
    if (!out) {
      out.close();
      std::remove(tmp.c_str());
      throw Error("writing '" + tmp + "' failed (disk full?)");
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    throw Error("cannot rename '" + tmp + "' to '" + path + "'");
  }
}

}  // namespace g4
