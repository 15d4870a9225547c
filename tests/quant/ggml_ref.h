#pragma once
// llama.cpp's libggml-base.so (node-llama-cpp's prebuilt package, installed by scripts/install-deps.sh into
// tests/quant/node_modules at the version ../shared/peer uses), opened with dlopen: the reference our
// formats and kernels are compared against. G4_GGML_BASE overrides the path. The parity tests FAIL when the
// library is missing: a parity test that skips proves nothing.
#include <dlfcn.h>

#include <cstdint>
#include <cstdlib>
#include <string>

namespace g4::test {

class GgmlRef {
 public:
  using ToFloat = void (*)(const void* src, float* dst, int64_t n);
  using QuantizeChunk = size_t (*)(int type, const float* src, void* dst, int64_t start, int64_t nrows,
                                   int64_t n_per_row, const float* imatrix);
  using RequiresImatrix = bool (*)(int type);

  GgmlRef() {
    path_ = default_path();
    if (const char* e = std::getenv("G4_GGML_BASE"); e && *e) path_ = e;
    h_ = dlopen(path_.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!h_) {
      const char* err = dlerror();
      error_ = "llama.cpp's libggml-base.so could not be opened from " + path_ + " (" + (err ? err : "?") +
               "); run scripts/install-deps.sh (it installs tests/quant/package.json) or set G4_GGML_BASE";
      return;
    }
    quantize_chunk_ = QuantizeChunk(dlsym(h_, "ggml_quantize_chunk"));
    requires_imatrix_ = RequiresImatrix(dlsym(h_, "ggml_quantize_requires_imatrix"));
  }
  ~GgmlRef() {
    if (h_) dlclose(h_);
  }
  GgmlRef(const GgmlRef&) = delete;
  GgmlRef& operator=(const GgmlRef&) = delete;

  bool ok() const { return h_ != nullptr && quantize_chunk_ && requires_imatrix_; }
  const std::string& error() const { return error_; }
  const std::string& path() const { return path_; }

  // dequantize_row_<name> ("q4_K", "iq2_xxs"), nullptr when ggml lacks it.
  ToFloat to_float(const std::string& name) const {
    return h_ ? ToFloat(dlsym(h_, ("dequantize_row_" + name).c_str())) : nullptr;
  }
  // What llama-quantize writes without an importance matrix: ggml_quantize_chunk(type, ..., NULL).
  size_t quantize(int ggml_type, const float* src, void* dst, int64_t nrows, int64_t n_per_row) const {
    return quantize_chunk_(ggml_type, src, dst, 0, nrows, n_per_row, nullptr);
  }
  bool requires_imatrix(int ggml_type) const { return requires_imatrix_(ggml_type); }

  static std::string default_path() {
#if defined(__aarch64__)
    const std::string pkg = "linux-arm64";
#else
    const std::string pkg = "linux-x64";
#endif
    return std::string(G4_SOURCE_DIR) + "/tests/quant/node_modules/@node-llama-cpp/" + pkg + "/bins/" + pkg +
           "/libggml-base.so";
  }

 private:
  void* h_ = nullptr;
  std::string path_, error_;
  QuantizeChunk quantize_chunk_ = nullptr;
  RequiresImatrix requires_imatrix_ = nullptr;
};

inline const GgmlRef& ggml_ref() {
  static GgmlRef g;
  return g;
}

}  // namespace g4::test
