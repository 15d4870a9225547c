#pragma once
// Writes a small random-weight Hugging Face checkpoint (config.json, generation_config.json,
// model.safetensors) for demos and tests. The weights are random: the model's output is noise.
#include <cstdint>
#include <string>

#include "core/json.h"

namespace g4 {

// A tiny Gemma 4 text config with every E2B feature (PLE, KV sharing, double-wide MLP, 4:1 pattern,
// proportional RoPE, softcap) and the real 262,144-token vocabulary.
Json demo_gemma4_config();

// The same text model inside a Gemma4ForConditionalGeneration wrapper with tiny random vision and audio
// towers (as E2B/E4B have), and the real vocabulary's media token ids: for trying and testing images and
// audio end to end (the server's media parts with real clients). The fixtures prove the towers exact.
Json demo_gemma4_media_config();

// Creates `dir` if needed and writes the three files for `config` (an HF config.json object; a wrapper
// config also gets the towers its vision_config / audio_config describe).
void write_random_hf_model(const std::string& dir, const Json& config, uint64_t seed);

}  // namespace g4
