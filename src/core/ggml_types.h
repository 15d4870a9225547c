#pragma once
// ggml's tensor types: the id stored in GGUF files, the name, and the block layout (elements and bytes per
// block) for every id ggml defines. Both the file formats (src/formats) and the kernels (src/quant) read
// this one table.
#include <cstdint>
#include <string>

namespace g4 {

struct GgmlTypeInfo {
  const char* name;
  int block_elems;  // elements per block (1 for plain scalars)
  int block_bytes;  // bytes per block
  // gemma4 can compute with tensors of this type (src/quant dequantizes it, and its kernels multiply it);
  // quant_formats_test holds this flag and src/quant's WType in agreement.
  bool computable;
};

// nullptr for ids ggml does not define or has removed.
const GgmlTypeInfo* ggml_type_info(uint32_t type);
// "Q4_K"; "Q4_0_4_4 (removed from ggml)"; "type 77" for ids ggml never defined.
std::string ggml_type_name(uint32_t type);
// The names of the computable types, comma-separated (for error messages).
std::string ggml_computable_type_names();

}  // namespace g4
