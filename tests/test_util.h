#pragma once
// Shared helpers for tests: fixture paths and tensor comparisons.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

namespace g4::test {

inline std::string shared_dir() { return G4_SHARED_DIR; }
inline std::string fixture(const std::string& name) { return shared_dir() + "/fixtures/hf/" + name; }

// max |a - b| / max |b|: the relative error measure the fixtures are judged by.
inline double rel_error(const float* a, const float* b, size_t n) {
  double num = 0, den = 0;
  for (size_t i = 0; i < n; ++i) {
    num = std::max(num, double(std::fabs(a[i] - b[i])));
    den = std::max(den, double(std::fabs(b[i])));
  }
  return den > 0 ? num / den : num;
}

inline double rel_error(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.size() != b.size()) return INFINITY;
  return rel_error(a.data(), b.data(), a.size());
}

inline int argmax(const float* x, size_t n) {
  return int(std::max_element(x, x + n) - x);
}

}  // namespace g4::test
