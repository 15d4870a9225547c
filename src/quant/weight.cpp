#include "quant/weight.h"

#include <vector>

#include "core/dtype.h"
#include "core/error.h"
#include "core/thread_pool.h"
#include "quant/kernels.h"

namespace g4 {

const WTypeInfo& wtype_info(WType t) {
  static const WTypeInfo f32{"F32", 1, 4}, f16{"F16", 1, 2}, bf16{"BF16", 1, 2}, q8_0{"Q8_0", 32, 34},
      q4_0{"Q4_0", 32, 18}, q4_k{"Q4_K", 256, 144}, q5_k{"Q5_K", 256, 176}, q6_k{"Q6_K", 256, 210};
  switch (t) {
    case WType::F32: return f32;
    case WType::F16: return f16;
    case WType::BF16: return bf16;
    case WType::Q8_0: return q8_0;
    case WType::Q4_0: return q4_0;
    case WType::Q4_K: return q4_k;
    case WType::Q5_K: return q5_k;
    case WType::Q6_K: return q6_k;
  }
  throw Error("unsupported tensor type id " + std::to_string(uint32_t(t)));
}

bool wtype_supported(uint32_t id) {
  switch (WType(id)) {
    case WType::F32: case WType::F16: case WType::BF16: case WType::Q8_0: case WType::Q4_0:
    case WType::Q4_K: case WType::Q5_K: case WType::Q6_K:
      return true;
  }
  return false;
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
