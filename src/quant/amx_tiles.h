#pragma once
// The AMX tile configuration (palette 1), shared by the kernels that use the tile unit. Each of them
// loads its own shapes with _tile_loadconfig on entry: nothing may assume a configuration persists
// between calls, since another kernel on the same thread may have changed it.
#include <cstdint>

namespace g4::kernels {

struct alignas(64) AmxTileConfig {
  uint8_t palette_id = 1;
  uint8_t start_row = 0;
  uint8_t reserved[14] = {};
  uint16_t colsb[16] = {};  // bytes per row of each tile register
  uint8_t rows[16] = {};
};
static_assert(sizeof(AmxTileConfig) == 64, "the tile configuration is 64 bytes");

}  // namespace g4::kernels
