#include "convert/gguf_stream.h"

#include <cstring>

#include "core/error.h"

namespace g4 {

GgufStreamWriter::GgufStreamWriter(const GgufWriter& metadata, uint32_t alignment)
    : meta_(metadata.serialize()), alignment_(alignment) {
  // A GgufWriter without tensors serialises as: magic, version, tensor count (0), kv count, key/values
  // (no padding). We patch the tensor count and append our own tensor table.
  if (meta_.size() < 24 || std::memcmp(meta_.data(), "GGUF", 4) != 0)
    throw Error("internal error: GGUF metadata image is malformed");
  uint64_t n = 0;
  std::memcpy(&n, meta_.data() + 8, 8);
  if (n != 0) throw Error("internal error: GgufStreamWriter takes a metadata-only GgufWriter");
}

GgufStreamWriter::~GgufStreamWriter() {
  if (f_) {
    std::fclose(f_);
    std::remove(tmp_.c_str());
  }
}

size_t GgufStreamWriter::add_tensor_info(const std::string& name, uint32_t ggml_type, const std::vector<int64_t>& ne) {
  if (f_) throw Error("internal error: tensor '" + name + "' declared after the GGUF header was written");
  for (const Info& t : tensors_)
    if (t.name == name) throw Error("tensor '" + name + "' added twice to a GGUF file");
  size_t nb = GgufWriter::tensor_nbytes(ggml_type, ne);
  tensors_.push_back(Info{name, ggml_type, ne, nb});
  total_ += nb;
  return nb;
}

const std::string& GgufStreamWriter::current_tensor() const {
  static const std::string none;
  return cur_ < tensors_.size() ? tensors_[cur_].name : none;
}

void GgufStreamWriter::put(const void* p, size_t n) {
  if (n && std::fwrite(p, 1, n, f_) != n) throw Error("writing '" + tmp_ + "' failed (disk full?)");
  written_ += n;
}

void GgufStreamWriter::pad() {
  static const uint8_t zeros[256] = {};
  size_t rem = written_ % alignment_;
  if (rem) put(zeros, alignment_ - rem);
}

void GgufStreamWriter::open(const std::string& path) {
  path_ = path;
  tmp_ = path + ".tmp";
  f_ = std::fopen(tmp_.c_str(), "wb");
  if (!f_) throw Error("cannot write '" + tmp_ + "' (does the folder exist and is it writable?)");
  uint64_t n = tensors_.size();
  std::memcpy(meta_.data() + 8, &n, 8);
  put(meta_.data(), meta_.size());
  auto put_u32 = [&](uint32_t v) { put(&v, 4); };
  auto put_u64 = [&](uint64_t v) { put(&v, 8); };
  uint64_t offset = 0;
  for (const Info& t : tensors_) {
    put_u64(t.name.size());
    put(t.name.data(), t.name.size());
    put_u32(uint32_t(t.ne.size()));
    for (int64_t d : t.ne) put_u64(uint64_t(d));
    put_u32(t.type);
    put_u64(offset);
    offset += (t.nbytes + alignment_ - 1) / alignment_ * alignment_;
  }
  pad();
  cur_ = 0;
  cur_done_ = 0;
  while (cur_ < tensors_.size() && tensors_[cur_].nbytes == 0) ++cur_;
}

void GgufStreamWriter::write(const void* data, size_t n) {
  if (!f_) throw Error("internal error: GgufStreamWriter::write before open");
  const uint8_t* p = static_cast<const uint8_t*>(data);
  while (n > 0) {
    if (cur_ >= tensors_.size()) throw Error("internal error: more tensor data than declared for '" + path_ + "'");
    const Info& t = tensors_[cur_];
    size_t k = std::min(n, t.nbytes - cur_done_);
    put(p, k);
    p += k;
    n -= k;
    cur_done_ += k;
    if (cur_done_ == t.nbytes) {
      pad();
      ++cur_;
      cur_done_ = 0;
      while (cur_ < tensors_.size() && tensors_[cur_].nbytes == 0) ++cur_;
    }
  }
}

void GgufStreamWriter::finish() {
  if (!f_) throw Error("internal error: GgufStreamWriter::finish before open");
  if (cur_ < tensors_.size())
    throw Error("internal error: tensor '" + tensors_[cur_].name + "' of '" + path_ + "' was not fully written");
  bool ok = std::fflush(f_) == 0;
  ok = std::fclose(f_) == 0 && ok;
  f_ = nullptr;
  if (!ok) {
    std::remove(tmp_.c_str());
    throw Error("writing '" + tmp_ + "' failed (disk full?)");
  }
  if (std::rename(tmp_.c_str(), path_.c_str()) != 0) {
    std::remove(tmp_.c_str());
    throw Error("cannot rename '" + tmp_ + "' to '" + path_ + "'");
  }
}

}  // namespace g4
