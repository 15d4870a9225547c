// attention(): splits the problems into units of work, runs them on the pool (largest first, taken
// dynamically, since causal blocks grow with their position), and merges the split-key partial results.
#include "quant/flash_attention.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <vector>

#include "core/arch.h"
#include "core/cpu.h"
#include "core/error.h"
#include "core/thread_pool.h"
#include "quant/attention_kernels.h"
#include "quant/flash_attention_impl.h"
#include "quant/vector_ops.h"

namespace g4::kernels {

namespace {

constexpr int kTileMinRows = 16;    // fewer query rows (tokens x heads) than this: the row path
constexpr int64_t kMinChunk = 256;  // row path: at least this many keys per piece

std::atomic<int> g_path{int(AttnPath::Auto)};
std::atomic<int64_t> g_chunk{0};
std::atomic<bool> g_portable{false};

bool avx512_ok() {
  static const bool ok = cpu_features().has_avx512_vnni_level();
  return ok;
}

// A piece of work: query tokens [t0, t1) of a problem against its keys in [k0, k1).
struct Unit {
  int prob;
  int t0, t1;
  int64_t k0, k1;
  bool tiled;
  int64_t partial = -1;  // row path split into pieces: where this piece's partial result goes
  double cost;
};

// Keys any of tokens [t0, t1) can see.
void key_span(const AttnProblem& p, int t0, int t1, int64_t& k0, int64_t& k1) {
  k0 = INT64_MAX;
  k1 = INT64_MIN;
  for (int t = t0; t < t1; ++t) {
    k0 = std::min(k0, p.lo[t]);
    k1 = std::max(k1, p.hi[t] + 1);
  }
}

// The row path: all of a problem's (few) query tokens against keys [k0, k1), one token at a time with
// every query head of the group reading each cached row once. Writes the normalised output when `o` is
// null, else the unnormalised output to o and the running max and sum to m, l (per token and head).
void rows_unit(const AttnShape& sh, const AttnProblem& p, int64_t k0, int64_t k1, float* o, float* m, float* l) {
  const int64_t d = sh.d;
  const int nh = sh.nh;
  static thread_local std::vector<float> scores;
  static thread_local std::vector<const uint8_t*> krows, vrows;
  for (int t = 0; t < p.n_q; ++t) {
    const int64_t a = std::max(p.lo[t], k0), b = std::min(p.hi[t], k1 - 1);
    float* dst = o ? o + int64_t(t) * nh * d : p.out + t * p.out_stride;
    if (a > b) {  // nothing visible in this piece
      std::fill(dst, dst + nh * d, 0.0f);
      for (int h = 0; h < nh; ++h) m[t * nh + h] = -INFINITY, l[t * nh + h] = 0;
      continue;
    }
    const int64_t n = b - a + 1;
    scores.resize(size_t(nh * n));
    krows.resize(size_t(n));
    vrows.resize(size_t(n));
    for (int64_t j = 0; j < n; ++j) {
      krows[size_t(j)] = p.k.at(a + j);
      vrows[size_t(j)] = p.v.at(a + j);
    }
    const float* q = p.q + t * p.q_stride;
    attn_scores(sh.k_type, q, nh, d, krows.data(), n, scores.data());
    for (int h = 0; h < nh; ++h) {
      float* sh_ = scores.data() + h * n;
      if (sh.scale != 1.0f) vec_scale(sh_, sh.scale, n);
      if (sh.softcap > 0) vec_softcap(sh_, sh.softcap, n);
      const float mx = vec_max(sh_, n);
      const float sum = vec_exp_sum(sh_, mx, n);
      if (o) {
        m[t * nh + h] = mx;
        l[t * nh + h] = sum;
      } else {
        vec_scale(sh_, 1.0f / sum, n);
      }
    }
    attn_values(sh.v_type, scores.data(), nh, d, vrows.data(), n, dst);
  }
}

void run_unit(const AttnShape& sh, const std::vector<AttnProblem>& problems, const Unit& u, bool fast,
              std::vector<float>& partials, int64_t partial_stride) {
  const AttnProblem& p = problems[size_t(u.prob)];
  if (u.tiled) {
    const fa::TileJob job{&sh, &p, u.t0, u.t1, u.k0, u.k1};
#if G4_X86
    if (fast) return fa::tiles_amx(job);  // only where amx_bf16_ready()
#endif
    fa::tiles_f32(job, avx512_ok() && !g_portable.load(std::memory_order_relaxed));
    return;
  }
  if (u.partial < 0) return rows_unit(sh, p, u.k0, u.k1, nullptr, nullptr, nullptr);
  float* base = partials.data() + u.partial;
  const int64_t rows = int64_t(p.n_q) * sh.nh;
  rows_unit(sh, p, u.k0, u.k1, base, base + rows * sh.d, base + rows * sh.d + rows);
  (void)partial_stride;
}

// Combines the pieces of a split problem: O = sum_c e^(m_c - M) O_c / sum_c e^(m_c - M) l_c.
void merge(const AttnShape& sh, const AttnProblem& p, const std::vector<float>& partials, int64_t first, int pieces,
           int64_t stride) {
  const int64_t d = sh.d, rows = int64_t(p.n_q) * sh.nh;
  for (int64_t r = 0; r < rows; ++r) {
    float M = -INFINITY;
    for (int c = 0; c < pieces; ++c) M = std::max(M, partials[size_t(first + c * stride + rows * d + r)]);
    float* dst = p.out + (r / sh.nh) * p.out_stride + (r % sh.nh) * d;
    std::fill(dst, dst + d, 0.0f);
    if (M == -INFINITY) continue;
    float L = 0;
    for (int c = 0; c < pieces; ++c) {
      const float* part = partials.data() + first + c * stride;
      const float mc = part[rows * d + r];
      if (mc == -INFINITY) continue;
      const float w = std::exp(mc - M);
      L += w * part[rows * d + rows + r];
      vec_axpy(w, part + r * d, dst, d);
    }
    vec_scale(dst, 1.0f / L, d);
  }
}

}  // namespace

bool attention_fast_available() { return fa::amx_bf16_ready(); }

void attention_force_path(AttnPath path, int64_t chunk, bool portable_tiles) {
  g_path.store(int(path));
  g_chunk.store(chunk);
  g_portable.store(portable_tiles);
}

void attention(const AttnShape& sh, const std::vector<AttnProblem>& problems, AttnMath math, ThreadPool& pool) {
  if (sh.d <= 0 || sh.nh <= 0) throw Error("attention: bad shape");
  const bool fast = math == AttnMath::Fast && fa::amx_bf16_ready();
  const AttnPath forced = AttnPath(g_path.load());
  std::vector<Unit> units;
  std::vector<int> row_problems;
  for (size_t i = 0; i < problems.size(); ++i) {
    const AttnProblem& p = problems[i];
    if (p.n_q <= 0) continue;
    const int rows = p.n_q * sh.nh;
    const bool tiled = forced == AttnPath::Tiles || (forced == AttnPath::Auto && rows >= kTileMinRows);
    if (!tiled) {
      row_problems.push_back(int(i));
      continue;
    }
    const int bq = std::max(1, fa::kTileRows / sh.nh);
    for (int t0 = 0; t0 < p.n_q; t0 += bq) {
      Unit u{int(i), t0, std::min(p.n_q, t0 + bq), 0, 0, true, -1, 0};
      key_span(p, u.t0, u.t1, u.k0, u.k1);
      u.cost = double(u.t1 - u.t0) * sh.nh * double(u.k1 - u.k0);
      units.push_back(u);
    }
  }
  // Row-path problems (decoding): split their keys so that every thread has work.
  std::vector<float> partials;
  int64_t stride = 0;
  struct Split {
    int prob, pieces;
    int64_t first;
  };
  std::vector<Split> splits;
  if (!row_problems.empty()) {
    const int64_t target = 4 * int64_t(pool.size());
    const int64_t per_problem = std::max<int64_t>(1, (target + int64_t(row_problems.size()) - 1) / int64_t(row_problems.size()));
    const int64_t forced_chunk = g_chunk.load();
    for (int i : row_problems) {
      const AttnProblem& p = problems[size_t(i)];
      int64_t k0, k1;
      key_span(p, 0, p.n_q, k0, k1);
      const int64_t keys = k1 - k0;
      int64_t pieces = forced_chunk > 0 ? (keys + forced_chunk - 1) / forced_chunk
                                        : std::min(per_problem, std::max<int64_t>(1, keys / kMinChunk));
      pieces = std::max<int64_t>(1, std::min(pieces, keys));
      const int64_t rows = int64_t(p.n_q) * sh.nh;
      stride = std::max(stride, rows * (sh.d + 2));
      if (pieces > 1) splits.push_back({i, int(pieces), 0});
      for (int64_t c = 0; c < pieces; ++c) {
        Unit u{i, 0, p.n_q, k0 + keys * c / pieces, k0 + keys * (c + 1) / pieces, false, pieces > 1 ? c : -1, 0};
        u.cost = double(rows) * double(u.k1 - u.k0);
        units.push_back(u);
      }
    }
    // Partial results: each split problem's pieces sit side by side, `stride` floats apart.
    int64_t next = 0;
    for (Split& s : splits) {
      s.first = next;
      next += s.pieces * stride;
    }
    partials.resize(size_t(next));
    size_t si = 0;
    for (Unit& u : units) {
      if (u.tiled || u.partial < 0) continue;
      while (splits[si].prob != u.prob) ++si;
      u.partial = splits[si].first + u.partial * stride;
    }
  }
  std::stable_sort(units.begin(), units.end(), [](const Unit& a, const Unit& b) { return a.cost > b.cost; });
  std::atomic<size_t> next{0};
  auto work = [&](int, int) {
    for (size_t k; (k = next.fetch_add(1, std::memory_order_relaxed)) < units.size();)
      run_unit(sh, problems, units[k], fast, partials, stride);
  };
  if (units.size() == 1) work(0, 1);
  else pool.run(work);
  for (const Split& s : splits) merge(sh, problems[size_t(s.prob)], partials, s.first, s.pieces, stride);
}

void attention_reference(const AttnShape& sh, const AttnProblem& p) {
  const int64_t d = sh.d;
  std::vector<double> sc;
  std::vector<float> row(static_cast<size_t>(d));
  for (int t = 0; t < p.n_q; ++t)
    for (int h = 0; h < sh.nh; ++h) {
      const float* q = p.q + t * p.q_stride + h * d;
      const int64_t n = p.hi[t] - p.lo[t] + 1;
      sc.assign(size_t(n), 0.0);
      double mx = -INFINITY;
      for (int64_t j = 0; j < n; ++j) {
        fa::row_to_f32(sh.k_type, p.k.at(p.lo[t] + j), d, d, row.data(), false);
        double s = 0;
        for (int64_t c = 0; c < d; ++c) s += double(q[c]) * row[size_t(c)];
        s *= sh.scale;
        if (sh.softcap > 0) s = sh.softcap * std::tanh(s / sh.softcap);
        sc[size_t(j)] = s;
        mx = std::max(mx, s);
      }
      double sum = 0;
      for (double& s : sc) sum += (s = std::exp(s - mx));
      std::vector<double> acc(size_t(d), 0.0);
      for (int64_t j = 0; j < n; ++j) {
        fa::row_to_f32(sh.v_type, p.v.at(p.lo[t] + j), d, d, row.data(), false);
        for (int64_t c = 0; c < d; ++c) acc[size_t(c)] += sc[size_t(j)] / sum * row[size_t(c)];
      }
      float* out = p.out + t * p.out_stride + h * d;
      for (int64_t c = 0; c < d; ++c) out[c] = float(acc[size_t(c)]);
    }
}

}  // namespace g4::kernels
