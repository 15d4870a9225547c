#include "model/rope.h"

#include <cmath>

#include "core/error.h"

namespace g4 {

Rope::Rope(const RopeParams& p, int head_dim) : head_dim_(head_dim) {
  int pairs = head_dim / 2;
  if (p.type == "proportional") pairs = int(std::floor(p.partial_rotary_factor * head_dim / 2.0));
  const double factor = (p.type == "linear" || p.type == "proportional") ? p.factor : 1.0;
  if (factor <= 0) throw Error("rope factor must be positive");
  inv_freq_.resize(size_t(pairs));
  for (int i = 0; i < pairs; ++i) {
    // float32 exponent as transformers builds it: arange(0, d, 2).float() / d
    float e = float(2 * i) / float(head_dim);
    float f = float(1.0 / std::pow(p.theta, double(e)));
    inv_freq_[size_t(i)] = float(double(f) / factor);
  }
}

void Rope::apply(float* x, int n_heads, int64_t pos) const {
  const int half = head_dim_ / 2;
  const float fpos = float(pos);
  for (size_t i = 0; i < inv_freq_.size(); ++i) {
    const float angle = fpos * inv_freq_[i];
    const float c = float(std::cos(double(angle))), s = float(std::sin(double(angle)));
    for (int h = 0; h < n_heads; ++h) {
      float* v = x + size_t(h) * size_t(head_dim_);
      const float a = v[i], b = v[i + size_t(half)];
      v[i] = a * c - b * s;
      v[i + size_t(half)] = b * c + a * s;
    }
  }
}

}  // namespace g4
