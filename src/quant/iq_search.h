#pragma once
// Search tables of the grid quantizers (internal to src/quant): for each grid, the level of every
// coordinate of every point, the map from a point's levels to its grid index, and for points off the
// grid the list of nearest grid points. They reproduce what ggml's iq2xs_init_impl / iq3xs_init_impl
// build (same keys, same neighbour lists in the same order), derived from the codebooks in iq_grids.cpp.
#include <cstdint>
#include <vector>

namespace g4::iq {

struct GridSearch {
  int dims = 0;                 // coordinates per point: 4 (IQ3) or 8 (IQ2, IQ1)
  int bits = 0;                 // bits per coordinate in a key: key = sum level[k] << (bits * k)
  std::vector<int8_t> levels;   // levels[dims * j + k]: level (0, 1, ...) of coordinate k of grid point j
  std::vector<int32_t> map;     // key -> grid index (>= 0), or -(offset + 1) of its neighbour list
  std::vector<uint16_t> neighbours;  // at an offset: the count n, then n grid indices

  // Grid index of the key's point, or -1 when the point is off the grid.
  int index(uint32_t key) const { return map[key] >= 0 ? map[key] : -1; }
  // The neighbour list of an off-grid key: count first. Only keys whose levels are all below the
  // quantizer's level count have one (the quantizers clamp levels, so no other key is looked up).
  const uint16_t* neighbours_of(uint32_t key) const { return neighbours.data() + (-map[key] - 1); }
  const int8_t* point(int j) const { return levels.data() + dims * j; }
};

// Built once, on first use (thread-safe).
const GridSearch& iq3xxs_search();  // IQ3_XXS: 256 points, 8 levels, neighbours at the 2 nearest distances
const GridSearch& iq3s_search();    // IQ3_S: 512 points, 8 levels, 3 distances
const GridSearch& iq2s_search();    // IQ2_S: 1024 points, 3 levels, 1 distance
const GridSearch& iq1_search();     // IQ1_S / IQ1_M: 2048 points, 3 levels, 3 distances

}  // namespace g4::iq
