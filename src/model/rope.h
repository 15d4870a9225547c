#pragma once
// Rotary position embedding, NeoX pairing (dimension j with j + d/2), as Gemma uses everywhere.
// Frequencies: "default" 1/theta^(2i/d); "linear" divides them by factor; "proportional" (Gemma 4 full
// layers) keeps only the first int(p*d/2) of a d-dim RoPE and leaves the other pairs unrotated.
#include <cstdint>
#include <vector>

#include "model/config.h"

namespace g4 {

class Rope {
 public:
  Rope() = default;
  Rope(const RopeParams& params, int head_dim);

  // Rotates n_heads consecutive head vectors of x (each head_dim long) for position pos.
  void apply(float* x, int n_heads, int64_t pos) const;
  int rotated_pairs() const { return int(inv_freq_.size()); }

 private:
  int head_dim_ = 0;
  std::vector<float> inv_freq_;  // only the rotating pairs
};

}  // namespace g4
