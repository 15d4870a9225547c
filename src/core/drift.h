#pragma once
// How far two runs' next-token distributions moved apart: the figure quantized weights and KV caches are
// judged by against a float32 reference (tests and benchmarks alike).
#include <algorithm>
#include <cmath>
#include <cstddef>

namespace g4 {

struct Drift {
  double kl = 0;    // mean KL(ref || got) of the rows' softmaxes
  double top1 = 0;  // share of rows whose largest logit is at the same place
};

// `rows` consecutive rows of `vocab` logits each.
inline Drift distribution_drift(const float* got, const float* ref, size_t rows, size_t vocab) {
  Drift d;
  if (rows == 0 || vocab == 0) return d;
  for (size_t r = 0; r < rows; ++r) {
    const float* a = got + r * vocab;
    const float* b = ref + r * vocab;
    const float* amax = std::max_element(a, a + vocab);
    const float* bmax = std::max_element(b, b + vocab);
    double za = 0, zb = 0;
    for (size_t i = 0; i < vocab; ++i) za += std::exp(double(a[i]) - *amax), zb += std::exp(double(b[i]) - *bmax);
    const double lza = std::log(za) + *amax, lzb = std::log(zb) + *bmax;
    double kl = 0;
    for (size_t i = 0; i < vocab; ++i) {
      const double lb = b[i] - lzb, la = a[i] - lza;
      kl += std::exp(lb) * (lb - la);
    }
    d.kl += kl;
    d.top1 += (amax - a) == (bmax - b) ? 1.0 : 0.0;
  }
  d.kl /= double(rows);
  d.top1 /= double(rows);
  return d;
}

}  // namespace g4
