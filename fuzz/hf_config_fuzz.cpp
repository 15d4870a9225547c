// libFuzzer target: config.json parsing (JSON, then the Gemma config reader) must turn any input into
// a ModelConfig (or, for gemma4_assistant, a drafter config) or one g4::Error; the resolved layer plan
// must be internally consistent.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "core/error.h"
#include "core/json.h"
#include "model/config.h"
#include "model/drafter.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    g4::Json j = g4::parse_json(std::string(reinterpret_cast<const char*>(data), size), "fuzz");
    g4::ModelConfig c = g4::config_from_hf_json(j, "fuzz");
    for (size_t i = 0; i < c.layers.size(); ++i) {
      const g4::LayerPlan& p = c.layers[i];
      if (p.kv_source < 0 || p.kv_source > int(i) || p.n_kv_heads <= 0 || c.n_heads % p.n_kv_heads != 0) std::abort();
    }
  } catch (const g4::Error&) {
  }
  try {
    g4::Json j = g4::parse_json(std::string(reinterpret_cast<const char*>(data), size), "fuzz");
    g4::DrafterConfig d = g4::drafter_config_from_hf_json(j, "fuzz");
    if (d.backbone_hidden <= 0 || d.text.layers.empty()) std::abort();
    if (d.ordered_embeddings && (d.n_centroids <= 0 || d.text.vocab_size % d.n_centroids != 0 || d.centroid_top_k < 1 ||
                                 d.centroid_top_k > d.n_centroids))
      std::abort();
  } catch (const g4::Error&) {
  }
  return 0;
}
