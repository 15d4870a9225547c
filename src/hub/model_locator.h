#pragma once
// What `--model` names, turned into a path the loaders take:
//   - an existing file: itself (the loaders recognise a GGUF by its magic, whatever its name);
//   - an existing folder: itself when it holds config.json (a Hugging Face checkpoint), else the model
//     GGUF in it (llama.cpp's choice when there are several: Q4_K_M, Q8_0, then the first);
//   - "org/name[:QUANT]": that repo's snapshot in the local Hugging Face cache (hub_cache.h), or the GGUF
//     of that quantization in it.
#include <string>

#include "hub/hub_cache.h"

namespace g4::hub {

struct LocatedModel {
  enum class Kind { Path, Cached, NotCached };
  Kind kind = Kind::Path;
  std::string path;  // Path and Cached: what to load
  RepoRef ref;       // Cached and NotCached: the repo it names
  std::string hint;  // NotCached: why (e.g. "no Q5_K_M GGUF in its cached snapshot; cached: Q4_K_M, Q8_0")
};

// Throws g4::Error for a spec that is neither an existing path nor a repo id.
LocatedModel locate_model(const std::string& spec);

// True when the file starts with the GGUF magic.
bool has_gguf_magic(const std::string& path);

}  // namespace g4::hub
