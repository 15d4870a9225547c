// libFuzzer target: a projector GGUF (`--mmproj`, llama.cpp's clip layout) from arbitrary bytes must
// load or throw g4::Error: no crash, no out-of-bounds read, no allocation beyond what the file holds;
// a tower that loads encodes a tiny image without fault.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "core/error.h"
#include "formats/gguf.h"
#include "model/multimodal.h"
#include "model/vision_tower.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::shared_ptr<const g4::GgufFile> g;
  try {
    g = g4::GgufFile::parse(data, size, "fuzz-mmproj.gguf");
  } catch (const g4::Error&) {
    return 0;
  }
  try {
    auto mm = g4::load_multimodal_gguf(g, 64);
    if (mm->vision) {
      const g4::VisionConfig& c = mm->vision->config();
      // 3 x 3 patches pooled to one soft token, when the tower is small enough to run quickly.
      if (int64_t(c.hidden) * c.intermediate * c.n_layers <= (1 << 20) && c.pooling_kernel == 3) {
        std::vector<float> px(size_t(9 * c.patch_values()), 0.5f);
        std::vector<int32_t> pos;
        for (int y = 0; y < 3; ++y)
          for (int x = 0; x < 3; ++x) { pos.push_back(x); pos.push_back(y); }
        int64_t n = 0;
        // Both arithmetics: the fast one multiplies on the bf16 GEMMs from 8 patches.
        for (g4::TowerMath math : {g4::TowerMath::Exact, g4::TowerMath::Fast}) {
          volatile float keep = mm->vision->encode(px.data(), pos.data(), 9, &n, math)[0];
          (void)keep;
        }
      }
    }
  } catch (const g4::Error&) {
  }
  return 0;
}
