// TowerMath::Fast for the vision tower: Q8_0 copies of the layers' matrices, so that encode() multiplies
// them with the integer GEMM (AMX-INT8 / AVX-512 VNNI) instead of f32 tiles of bf16 rows. At 280 and 1120
// soft tokens the tower's matrix products are most of its work (thousands of patches through ~400M
// parameters on 26B/31B), and the f32 float GEMM runs at a quarter of the integer one's speed.
//
// The copies are made once, on the first fast encode, so that a text-only session pays nothing. Matrices
// already stored quantized keep their own type. A width that is not a whole number of Q8_0 blocks (26B's
// MLP is 4304 wide) is padded with zero columns; layer() pads the activations to match.
#include <algorithm>
#include <cstring>

#include "core/thread_pool.h"
#include "model/vision_tower.h"

namespace g4 {

struct VisionTower::FastLayers {
  std::vector<VisionLayerWeights> layers;
  std::vector<std::vector<uint8_t>> bytes;  // the Q8_0 matrices the layers' weights point into
};

namespace {

constexpr int64_t kBlock = 32;  // Q8_0 block

bool is_float(WType t) { return t == WType::F32 || t == WType::F16 || t == WType::BF16; }

// w as Q8_0 with cols rounded up to whole blocks (zeros past the end), into `storage`.
Weight to_q8_0(const Weight& w, std::vector<uint8_t>& storage) {
  const int64_t cols = (w.cols + kBlock - 1) / kBlock * kBlock;
  const size_t row_bytes = wtype_row_bytes(WType::Q8_0, cols);
  storage.assign(row_bytes * size_t(w.rows), 0);
  ThreadPool::global().parallel_for(size_t(w.rows), [&](size_t a, size_t b) {
    std::vector<float> row(size_t(cols), 0.0f);
    for (size_t r = a; r < b; ++r) {
      dequantize_row(w, int64_t(r), row.data());
      quantize_row(WType::Q8_0, row.data(), storage.data() + r * row_bytes, cols);
    }
  }, 16);
  Weight q;
  q.data = storage.data();
  q.type = WType::Q8_0;
  q.rows = w.rows;
  q.cols = cols;
  return q;
}

}  // namespace

const std::vector<VisionLayerWeights>& VisionTower::fast_layers() const {
  std::call_once(fast_once_, [&] {
    auto f = std::make_shared<FastLayers>();
    f->layers = weights_.layers;
    for (VisionLayerWeights& l : f->layers)
      for (ClippedLinear* c : {&l.q, &l.k, &l.v, &l.o, &l.gate, &l.up, &l.down}) {
        if (!is_float(c->w.type)) continue;
        f->bytes.emplace_back();
        c->w = to_q8_0(c->w, f->bytes.back());
      }
    fast_ = std::move(f);
  });
  return fast_->layers;
}

}  // namespace g4
