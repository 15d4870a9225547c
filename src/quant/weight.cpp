#include "quant/weight.h"

#include <vector>

#include "core/dtype.h"
#include "core/error.h"
#include "core/thread_pool.h"
#include "quant/kernels.h"

namespace g4 {

const WTypeInfo& wtype_info(WType t) {
  const GgmlTypeInfo* info = ggml_type_info(uint32_t(t));
  if (!info || !info->computable) throw Error("unsupported tensor type " + ggml_type_name(uint32_t(t)));
  return *info;
}

bool wtype_supported(uint32_t id) {
  const GgmlTypeInfo* info = ggml_type_info(id);
  return info && info->computable;
}

size_t wtype_row_bytes(WType t, int64_t cols) {
  const WTypeInfo& info = wtype_info(t);
  if (cols % info.block_elems != 0)
    throw Error(std::string("a row of ") + std::to_string(cols) + " elements is not a whole number of " +
                info.name + " blocks (" + std::to_string(info.block_elems) + " elements each)");
  return size_t(cols / info.block_elems) * size_t(info.block_bytes);
}

Weight Weight::slice_rows(int64_t first, int64_t count) const {
  Weight w = *this;
  w.data = row_ptr(first);
  w.rows = count;
  return w;
}

void dequantize_row(const Weight& w, int64_t r, float* out) {
  const uint8_t* p = w.row_ptr(r);
  switch (w.type) {
    case WType::F32: {
      const float* src = reinterpret_cast<const float*>(p);
      for (int64_t c = 0; c < w.cols; ++c) out[c] = src[c];
      return;
    }
    case WType::BF16: {
      const uint16_t* src = reinterpret_cast<const uint16_t*>(p);
      for (int64_t c = 0; c < w.cols; ++c) out[c] = bf16_to_f32(src[c]);
      return;
    }
    case WType::F16: {
      const uint16_t* src = reinterpret_cast<const uint16_t*>(p);
      for (int64_t c = 0; c < w.cols; ++c) out[c] = f16_to_f32(src[c]);
      return;
    }
    default:
      dequantize_blocks(w.type, p, out, w.cols);
      return;
  }
}

}  // namespace g4
