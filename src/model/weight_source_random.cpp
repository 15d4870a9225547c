#include <cmath>
#include <cstring>
#include <deque>
#include <map>
#include <random>

#include "core/dtype.h"
#include "core/error.h"
#include "model/weight_source.h"

namespace g4 {

struct RandomWeightSource::Impl {
  WType type;
  uint64_t seed;
  std::map<std::string, SourceTensor> tensors;
  std::vector<std::string> order;
  std::deque<std::vector<uint8_t>> storage;
};

RandomWeightSource::RandomWeightSource(WType type, uint64_t seed) : impl_(std::make_unique<Impl>()) {
  if (type != WType::BF16 && type != WType::F32) throw Error("random weights are written as BF16 or F32");
  impl_->type = type;
  impl_->seed = seed;
}

RandomWeightSource::~RandomWeightSource() = default;

const SourceTensor* RandomWeightSource::find(const std::string& name) const {
  auto it = impl_->tensors.find(name);
  return it == impl_->tensors.end() ? nullptr : &it->second;
}

const SourceTensor* RandomWeightSource::find_shaped(const std::string& name, const std::vector<int64_t>& shape) const {
  if (const SourceTensor* t = find(name)) return t;
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  // Seed per tensor name so that the weights do not depend on creation order.
  std::mt19937_64 rng(impl_->seed ^ std::hash<std::string>{}(name));
  std::normal_distribution<float> normal(0.0f, 1.0f);
  const bool near_one = name.find("norm") != std::string::npos || name.find("layer_scalar") != std::string::npos ||
                        name.find("scale") != std::string::npos;
  const float fan_in = float(shape.empty() ? 1 : shape.back());
  const float sd = near_one ? 0.1f : 1.0f / std::sqrt(fan_in);
  const size_t esize = impl_->type == WType::BF16 ? 2 : 4;
  auto& buf = impl_->storage.emplace_back(size_t(n) * esize);
  for (int64_t i = 0; i < n; ++i) {
    float v = (near_one ? 1.0f : 0.0f) + sd * normal(rng);
    if (impl_->type == WType::BF16) {
      uint16_t h = f32_to_bf16(v);
      std::memcpy(buf.data() + size_t(i) * 2, &h, 2);
    } else {
      std::memcpy(buf.data() + size_t(i) * 4, &v, 4);
    }
  }
  SourceTensor t;
  t.name = name;
  t.type = impl_->type;
  t.shape = shape;
  t.data = buf.data();
  t.nbytes = buf.size();
  t.file = "random";
  impl_->order.push_back(name);
  return &impl_->tensors.emplace(name, std::move(t)).first->second;
}

std::vector<const SourceTensor*> RandomWeightSource::created() const {
  std::vector<const SourceTensor*> out;
  for (const auto& n : impl_->order) out.push_back(&impl_->tensors.at(n));
  return out;
}

}  // namespace g4
