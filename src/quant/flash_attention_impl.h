#pragma once
// Internal to the attention kernels: one tile job and the tiled implementations behind attention().
#include <cstdint>

#include "quant/flash_attention.h"

namespace g4::kernels::fa {

constexpr int kBk = 64;         // keys per tile
constexpr int kTileRows = 256;  // query rows (tokens x heads) per tiled unit, at most

// Query tokens [t0, t1) of problem p against every key they can see, in [k0, k1). Writes the final,
// normalised output.
struct TileJob {
  const AttnShape* shape;
  const AttnProblem* p;
  int t0, t1;
  int64_t k0, k1;
};

void tiles_f32(const TileJob& job, bool avx512);  // AttnMath::Exact (AVX-512 or portable)
void tiles_amx(const TileJob& job);                // AttnMath::Fast on AMX-BF16 CPUs
bool amx_bf16_ready();                             // the CPU has AMX-BF16 and the OS granted it

// Row `j` of a cached K/V tensor (d values of `type`) as f32, zero-padded to `padded` values.
void row_to_f32(WType type, const uint8_t* row, int64_t d, int64_t padded, float* out, bool avx512);

}  // namespace g4::kernels::fa
