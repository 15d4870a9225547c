#include "core/ggml_types.h"

namespace g4 {

namespace {

// Indexed by ggml type id (ggml.h's enum ggml_type); block sizes as ggml-common.h's block structs.
constexpr GgmlTypeInfo kTable[] = {
    {"F32", 1, 4, true},          // 0
    {"F16", 1, 2, true},          // 1
    {"Q4_0", 32, 18, true},       // 2
    {"Q4_1", 32, 20, true},       // 3
    {"Q4_2", 0, 0, false},        // 4 (removed)
    {"Q4_3", 0, 0, false},        // 5 (removed)
    {"Q5_0", 32, 22, true},       // 6
    {"Q5_1", 32, 24, true},       // 7
    {"Q8_0", 32, 34, true},       // 8
    {"Q8_1", 32, 36, false},      // 9 (an activation format, not stored in files)
    {"Q2_K", 256, 84, true},      // 10
    {"Q3_K", 256, 110, true},     // 11
    {"Q4_K", 256, 144, true},     // 12
    {"Q5_K", 256, 176, true},     // 13
    {"Q6_K", 256, 210, true},     // 14
    {"Q8_K", 256, 292, false},    // 15 (an activation format)
    {"IQ2_XXS", 256, 66, true},   // 16
    {"IQ2_XS", 256, 74, true},    // 17
    {"IQ3_XXS", 256, 98, true},   // 18
    {"IQ1_S", 256, 50, true},     // 19
    {"IQ4_NL", 32, 18, true},     // 20
    {"IQ3_S", 256, 110, true},    // 21
    {"IQ2_S", 256, 82, true},     // 22
    {"IQ4_XS", 256, 136, true},   // 23
    {"I8", 1, 1, false},          // 24
    {"I16", 1, 2, false},         // 25
    {"I32", 1, 4, false},         // 26
    {"I64", 1, 8, false},         // 27
    {"F64", 1, 8, false},         // 28
    {"IQ1_M", 256, 56, true},     // 29
    {"BF16", 1, 2, true},         // 30
    {"Q4_0_4_4", 0, 0, false},    // 31 (removed)
    {"Q4_0_4_8", 0, 0, false},    // 32 (removed)
    {"Q4_0_8_8", 0, 0, false},    // 33 (removed)
    {"TQ1_0", 256, 54, false},    // 34
    {"TQ2_0", 256, 66, false},    // 35
    {"IQ4_NL_4_4", 0, 0, false},  // 36 (removed)
    {"IQ4_NL_4_8", 0, 0, false},  // 37 (removed)
    {"IQ4_NL_8_8", 0, 0, false},  // 38 (removed)
    {"MXFP4", 32, 17, true},      // 39
    {"NVFP4", 64, 36, false},     // 40
    {"Q1_0", 128, 18, false},     // 41
    {"Q2_0", 64, 18, false},      // 42
};
constexpr uint32_t kCount = sizeof(kTable) / sizeof(kTable[0]);

}  // namespace

const GgmlTypeInfo* ggml_type_info(uint32_t type) {
  if (type >= kCount || kTable[type].block_elems == 0) return nullptr;
  return &kTable[type];
}

std::string ggml_type_name(uint32_t type) {
  if (const GgmlTypeInfo* info = ggml_type_info(type)) return info->name;
  if (type < kCount) return std::string(kTable[type].name) + " (removed from ggml)";
  return "type " + std::to_string(type);
}

std::string ggml_computable_type_names() {
  std::string out;
  for (const GgmlTypeInfo& t : kTable)
    if (t.computable) out += (out.empty() ? "" : ", ") + std::string(t.name);
  return out;
}

}  // namespace g4
