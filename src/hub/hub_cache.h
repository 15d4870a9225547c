#pragma once
// The local Hugging Face cache, as huggingface_hub lays it out, and llama.cpp's rules for picking a GGUF
// in a repository by its quantization:
//
//   $HF_HUB_CACHE (else $HF_HOME/hub, else $XDG_CACHE_HOME/huggingface/hub, else ~/.cache/huggingface/hub)
//     models--ORG--NAME/
//       refs/main                      the commit hash "main" pointed at when last pulled
//       blobs/<sha256 or git oid>      file contents, named by the hub's checksum
//       snapshots/<commit>/<file>      symlinks to ../../blobs/<...>
//
// Knows nothing of the network (hub_download.h) or of models (model_locator.h).
#include <optional>
#include <string>
#include <vector>

namespace g4::hub {

// "org/name" or "org/name:QUANT" (the quantization as llama.cpp's -hf takes it: Q4_K_M, q8_0, ...).
struct RepoRef {
  std::string repo;   // org/name
  std::string quant;  // upper-cased; empty: the default choice
  std::string str() const { return quant.empty() ? repo : repo + ":" + quant; }
};

// Repo ids as the hub allows them: [A-Za-z0-9_] with '.', '-' and exactly one '/' between them, at most
// 96 characters a part.
bool is_valid_repo_id(const std::string& repo);
// Parses "org/name[:QUANT]"; nullopt when `spec` is not of that form.
std::optional<RepoRef> parse_repo_ref(const std::string& spec);

// The cache root (the environment variables above, in that order).
std::string cache_dir();
// <cache>/models--org--name
std::string repo_dir(const std::string& repo);
// The snapshot folder refs/<revision> points at, when it exists; nullopt otherwise.
std::optional<std::string> cached_snapshot(const std::string& repo, const std::string& revision = "main");
// Files under `dir`, relative, sorted ('/'-separated; symlinks included, dangling ones left out).
std::vector<std::string> list_files(const std::string& dir);

// A GGUF file name's quantization tag as llama.cpp reads it: "gemma-4-E2B-it-Q4_K_M.gguf" -> "Q4_K_M",
// "model-q8_0-00001-of-00002.gguf" -> "Q8_0"; empty when the name has none or is not a .gguf (any case).
std::string gguf_quant_tag(const std::string& path);
// A GGUF holding a model rather than a projector (mmproj), importance matrix or draft head.
bool gguf_is_model_file(const std::string& path);
// llama.cpp's -hf choice among `files` (repo-relative paths): the first model GGUF whose name holds
// "<quant>." or "<quant>-" (case-insensitive); without a quant, Q4_K_M, then Q8_0, then the first model GGUF.
// Of a split model only the first part is chosen. Empty when nothing matches.
std::string pick_gguf(const std::vector<std::string>& files, const std::string& quant);
// The distinct quantization tags of the model GGUFs in `files`, for error messages.
std::vector<std::string> gguf_quants(const std::vector<std::string>& files);

// Checks a repo-relative path from the network or the cache: no empty, "." or ".." parts, not absolute,
// no backslashes or control characters.
bool is_safe_relative_path(const std::string& path);

}  // namespace g4::hub
