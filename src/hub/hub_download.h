#pragma once
// `gemma4 pull`: downloads a repository (or one of its GGUFs) from the Hugging Face hub into the local cache
// in huggingface_hub's layout (hub_cache.h), with libcurl.
//
// The hub's API as huggingface_hub uses it:
//   GET {endpoint}/api/models/{repo}/revision/{rev}?blobs=true   -> {"sha": commit, "siblings": [{"rfilename",
//       "size", "blobId", "lfs": {"sha256", "size"}}]}
//   GET {endpoint}/{repo}/resolve/{commit}/{file}                 -> the bytes (often a redirect to a CDN;
//       X-Linked-Etag carries an LFS file's sha256)
// A file lands in blobs/<checksum>.incomplete first (resumed with an HTTP Range request when one is already
// there), is verified (SHA-256 for LFS files, the git blob SHA-1 otherwise), then renamed into blobs/ and
// linked from snapshots/<commit>/; refs/<rev> is written last. Nothing unverified is ever in the snapshot.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "hub/hub_cache.h"

namespace g4::hub {

struct RepoFile {
  std::string path;    // repo-relative
  int64_t size = -1;   // -1: unknown
  std::string sha256;  // LFS files: the content's SHA-256 (hex)
  std::string blob_id; // the git blob id (SHA-1 of "blob <size>\0" + content) of a file kept in git itself
};

struct RepoInfo {
  std::string commit;  // 40 hex digits
  std::vector<RepoFile> files;
};

// Parses the answer of /api/models/{repo}/revision/{rev}?blobs=true. Throws g4::Error naming what is wrong;
// siblings with unsafe paths (.., absolute) or malformed checksums are refused, not skipped.
RepoInfo parse_repo_info(const std::string& json_text);

// The files a pull fetches: a Hugging Face checkpoint's top-level *.json, *.safetensors and *.jinja when the
// repo has a config.json and no quant is asked for; otherwise the chosen GGUF (all parts of a split one).
// Throws g4::Error naming the available quantizations when nothing matches.
std::vector<RepoFile> select_files(const RepoInfo& info, const RepoRef& ref);

struct PullOptions {
  std::string endpoint;         // default: $HF_ENDPOINT, else https://huggingface.co
  std::string token;            // default: $HF_TOKEN, else the token file huggingface_hub writes
  std::string revision = "main";
  bool progress = false;        // draw a progress bar on stderr
  int retries = 5;              // attempts after a broken transfer, each resuming where it stopped
};

// Fills endpoint and token from the environment when empty.
PullOptions pull_options_from_env(PullOptions o = {});

struct PullResult {
  std::string snapshot;    // snapshots/<commit>
  std::string model_path;  // what --model should load: the GGUF, or the snapshot folder
  int64_t downloaded = 0;  // bytes fetched by this call
  int files_fetched = 0, files_cached = 0;
};

// Throws g4::Error with one clear message (gated repo, missing token, checksum mismatch, HTTP status, ...).
PullResult pull(const RepoRef& ref, const PullOptions& options);

}  // namespace g4::hub
