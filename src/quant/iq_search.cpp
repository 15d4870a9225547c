// Search tables of the grid quantizers, built from the codebooks as ggml's iq2xs_init_impl and
// iq3xs_init_impl build theirs. ggml sorts the grid by (squared distance, grid index) with qsort; that
// order is total, so listing the points of each of the nearest distances in ascending index order, nearest
// distance first, gives the same lists without sorting.
#include "quant/iq_search.h"

#include <algorithm>
#include <stdexcept>

#include "quant/iq_grids.h"

namespace g4::iq {

namespace {

// Levels of every coordinate of a packed grid: coordinate byte -> its position in `values`.
template <class Entry>
std::vector<int8_t> grid_levels(const Entry* grid, int n, int dims, const std::vector<int>& values, bool signed_bytes) {
  std::vector<int8_t> lv(size_t(n) * size_t(dims));
  for (int j = 0; j < n; ++j) {
    for (int k = 0; k < dims; ++k) {
      const uint8_t b = uint8_t(grid[j] >> (8 * k));
      const int v = signed_bytes ? int(int8_t(b)) : int(b);
      const auto it = std::find(values.begin(), values.end(), v);
      if (it == values.end()) throw std::logic_error("iq_search: grid value not among the levels");
      lv[size_t(dims * j + k)] = int8_t(it - values.begin());
    }
  }
  return lv;
}

// The grid points at the `nwant` smallest squared distances from the point with levels `pos`, nearest
// first, ties in ascending grid index (ggml's qsort order), appended to `out` after their count.
void append_neighbours(const GridSearch& g, int npoints, const int* pos, int nwant, std::vector<uint16_t>& out) {
  std::vector<int> d2(static_cast<size_t>(npoints));
  std::vector<int> nearest;  // the smallest distinct distances, ascending, at most nwant
  for (int j = 0; j < npoints; ++j) {
    const int8_t* p = g.point(j);
    int d = 0;
    for (int k = 0; k < g.dims; ++k) {
      const int diff = (2 * p[k] + 1) - (2 * pos[k] + 1);
      d += diff * diff;
    }
    d2[size_t(j)] = d;
    const auto it = std::lower_bound(nearest.begin(), nearest.end(), d);
    if (it != nearest.end() && *it == d) continue;
    if (int(nearest.size()) < nwant) {
      nearest.insert(it, d);
    } else if (it != nearest.end()) {
      nearest.insert(it, d);
      nearest.pop_back();
    }
  }
  const size_t count_at = out.size();
  out.push_back(0);
  for (int d : nearest)
    for (int j = 0; j < npoints; ++j)
      if (d2[size_t(j)] == d) out.push_back(uint16_t(j));
  out[count_at] = uint16_t(out.size() - count_at - 1);
}

// `nlevels`: the levels a quantizer can produce (0 .. nlevels-1); only keys made of those get a list.
template <class Entry>
GridSearch build(const Entry* grid, int npoints, int dims, int bits, const std::vector<int>& values, bool signed_bytes,
                 int nlevels, int nwant) {
  GridSearch g;
  g.dims = dims;
  g.bits = bits;
  g.levels = grid_levels(grid, npoints, dims, values, signed_bytes);
  const uint32_t nkeys = 1u << (bits * dims);
  // Keys no quantizer produces share a one-entry list (grid point 0) at offset 0, so that every key
  // indexes valid memory.
  g.map.assign(nkeys, -1);
  g.neighbours = {1, 0};
  for (int j = 0; j < npoints; ++j) {
    uint32_t key = 0;
    for (int k = 0; k < dims; ++k) key |= uint32_t(g.point(j)[k]) << (bits * k);
    g.map[key] = j;
  }
  int pos[8];
  for (uint32_t key = 0; key < nkeys; ++key) {
    if (g.map[key] >= 0) continue;
    bool reachable = true;
    for (int k = 0; k < dims; ++k) {
      pos[k] = int(key >> (bits * k)) & ((1 << bits) - 1);
      reachable = reachable && pos[k] < nlevels;
    }
    if (!reachable) continue;
    g.map[key] = -int32_t(g.neighbours.size()) - 1;
    append_neighbours(g, npoints, pos, nwant, g.neighbours);
  }
  return g;
}

}  // namespace

const GridSearch& iq3xxs_search() {
  static const GridSearch g = build(kIq3xxsGrid, 256, 4, 3, {4, 12, 20, 28, 36, 44, 52, 62}, false, 8, 2);
  return g;
}

const GridSearch& iq3s_search() {
  static const GridSearch g = build(kIq3sGrid, 512, 4, 3, {1, 3, 5, 7, 9, 11, 13, 15}, false, 8, 3);
  return g;
}

const GridSearch& iq2s_search() {
  static const GridSearch g = build(kIq2sGrid, 1024, 8, 2, {8, 25, 43}, false, 3, 1);
  return g;
}

const GridSearch& iq1_search() {
  static const GridSearch g = build(kIq1sGrid, 2048, 8, 2, {-1, 0, 1}, true, 3, 3);
  return g;
}

}  // namespace g4::iq
