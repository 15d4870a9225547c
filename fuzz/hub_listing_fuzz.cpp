// libFuzzer target: the hub's repository listing (untrusted network input) must become a RepoInfo whose
// every path is safe to join under the cache, or one g4::Error; choosing files from it must do the same.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "core/error.h"
#include "hub/hub_cache.h"
#include "hub/hub_download.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const std::string text(reinterpret_cast<const char*>(data), size);
    g4::hub::RepoInfo info = g4::hub::parse_repo_info(text);
    if (info.commit.size() != 40) std::abort();
    for (const auto& f : info.files)
      if (!g4::hub::is_safe_relative_path(f.path) || (!f.sha256.empty() && f.sha256.size() != 64)) std::abort();
    for (const char* quant : {"", "Q8_0", "Q4_K_M"}) {
      try {
        for (const auto& f : g4::hub::select_files(info, g4::hub::RepoRef{"org/name", quant}))
          if (!g4::hub::is_safe_relative_path(f.path)) std::abort();
      } catch (const g4::Error&) {
      }
    }
    g4::hub::gguf_quant_tag(text);
    g4::hub::parse_repo_ref(text);
  } catch (const g4::Error&) {
  }
  return 0;
}
