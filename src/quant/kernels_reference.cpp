#include <vector>

#include "core/error.h"
#include "core/thread_pool.h"
#include "quant/kernels.h"

namespace g4 {

namespace kernels {

float dot_f32(const float* a, const float* b, int64_t n) {
  // Eight independent partial sums let the compiler vectorise without -ffast-math.
  float s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int k = 0; k < 8; ++k) s[k] += a[i + k] * b[i + k];
  float tail = 0;
  for (; i < n; ++i) tail += a[i] * b[i];
  return ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7])) + tail;
}

void matmul_f32_accum(const Weight& w, const float* x, size_t n_tokens, float* y, ThreadPool& pool) {
  const int64_t rows = w.rows, cols = w.cols;
  pool.parallel_for(size_t(rows), [&](size_t r0, size_t r1) {
    std::vector<float> row_buf(static_cast<size_t>(cols));
    for (size_t r = r0; r < r1; ++r) {
      const float* wr;
      if (w.type == WType::F32) {
        wr = reinterpret_cast<const float*>(w.row_ptr(int64_t(r)));
      } else {
        dequantize_row(w, int64_t(r), row_buf.data());
        wr = row_buf.data();
      }
      for (size_t t = 0; t < n_tokens; ++t) y[t * size_t(rows) + r] = dot_f32(x + t * size_t(cols), wr, cols);
    }
  }, 4);
}

}  // namespace kernels
}  // namespace g4
