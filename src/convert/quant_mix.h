#pragma once
// llama-quantize's mixes (llama-quant.cpp, llama_tensor_get_type): the type of each tensor of a
// Q4_K_M, Q5_K_M, Q6_K, Q3_K_M, IQ4_XS, IQ4_NL or IQ3_M file from its role, its layer and the model's
// shape, with the rule applied named per tensor. (llama-quantize's IQ3_XXS and IQ3_S mixes are not here:
// those names write one type throughout, see parse_wtype; its IQ3_XS mix needs an importance matrix.)
#include <optional>
#include <string>

#include "convert/convert.h"

namespace g4 {

enum class QuantMix { Q4_K_M, Q5_K_M, Q6_K, Q3_K_M, IQ4_XS, IQ4_NL, IQ3_M };

// "q4_k_m" -> Q4_K_M (case-insensitive); nullopt for names that are not a mix.
std::optional<QuantMix> parse_quant_mix(const std::string& name);
const char* quant_mix_name(QuantMix m);

// Re-quantizes `in` as llama-quantize would write mix m without an importance matrix; the report lists
// every quantizable tensor's type and the rule that chose it.
WriteReport quantize_gguf_mix(const std::string& in, const std::string& out, QuantMix m, bool progress = true);

}  // namespace g4
