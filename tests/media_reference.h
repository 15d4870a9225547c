#pragma once
// Readers of the multimodal fixtures' reference activations (../shared/fixtures/hf/*-mm/reference.safetensors),
// shared by the towers' tests (tests/model) and the projector writer's tests (tests/convert).
#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "formats/safetensors.h"
#include "model/vision_tower.h"

namespace g4::test {

// The reference of a *-mm fixture; f32 of a missing tensor is empty.
struct MmReference {
  std::unique_ptr<SafetensorsFile> file;
  std::vector<float> f32(const std::string& name) const {
    const TensorInfo* t = file->find(name);
    if (!t) return {};
    return tensor_to_f32(*t);
  }
  std::vector<int64_t> i64(const std::string& name) const { return tensor_to_i64(*file->find(name)); }
  bool has(const std::string& name) const { return file->find(name) != nullptr; }
};

inline MmReference load_ref(const std::string& dir) { return {SafetensorsFile::open(dir + "/reference.safetensors")}; }

inline std::vector<int32_t> positions_of(const MmReference& r) {
  std::vector<int32_t> pos;
  for (int64_t v : r.i64("image_position_ids")) pos.push_back(int32_t(v));
  return pos;
}

// The tower's soft tokens for the reference's pixel_values (`n` of them).
inline std::vector<float> encode_reference_image(const VisionTower& tower, const MmReference& ref, int64_t* n,
                                                 TowerMath math = TowerMath::Exact) {
  std::vector<float> pixels = ref.f32("pixel_values");
  std::vector<int32_t> pos = positions_of(ref);
  return tower.encode(pixels.data(), pos.data(), int64_t(pos.size() / 2), n, math);
}

// The audio part of a fixture's reference: the features and mask that go in, the soft tokens that must come out.
struct AudioReference {
  std::unique_ptr<SafetensorsFile> file;
  std::vector<float> features;   // [frames, mel]
  std::vector<uint8_t> mask;     // [frames]
  std::vector<float> soft;       // [n, H]
  int64_t frames = 0, mel = 0, n = 0, dim = 0;
};

inline AudioReference load_audio_reference(const std::string& dir) {
  AudioReference r;
  r.file = SafetensorsFile::open(dir + "/reference.safetensors");
  const TensorInfo* f = r.file->find("input_features");
  const TensorInfo* m = r.file->find("input_features_mask");
  const TensorInfo* s = r.file->find("audio_soft_tokens");
  EXPECT_TRUE(f && m && s) << "fixture lacks the audio tensors";
  if (!f || !m || !s) return r;
  r.features = tensor_to_f32(*f);
  r.frames = f->shape[1];
  r.mel = f->shape[2];
  for (int64_t v : tensor_to_i64(*m)) r.mask.push_back(v != 0);
  r.soft = tensor_to_f32(*s);
  r.n = s->shape[0];
  r.dim = s->shape[1];
  return r;
}

}  // namespace g4::test
