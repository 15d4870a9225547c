// The hub's repository listing (untrusted input) and the choice of files to pull.
#include <algorithm>
#include <cctype>

#include "core/error.h"
#include "core/json.h"
#include "hub/hub_download.h"

namespace g4::hub {

namespace {

bool is_hex(const std::string& s, size_t n) {
  return s.size() == n && std::all_of(s.begin(), s.end(), [](char c) { return std::isxdigit(static_cast<unsigned char>(c)); });
}

std::string lower(std::string s) {
  for (char& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

int64_t size_of(const Json& j, const std::string& what) {
  if (!j.is_number_integer() || j.get<int64_t>() < 0) throw Error("hub listing: bad size for " + what);
  return j.get<int64_t>();
}

// "name-00001-of-00003.gguf" -> "name-", "-of-00003.gguf" (empty when not split).
std::pair<std::string, std::string> split_pattern(const std::string& path) {
  const std::string l = lower(path);
  if (l.size() < 20 || !ends_with(l, ".gguf")) return {};
  const std::string tail = l.substr(l.size() - 20);  // "00001-of-00003.gguf" plus the '-' before
  if (tail[0] != '-' || tail.compare(6, 4, "-of-") != 0) return {};
  for (int i : {1, 2, 3, 4, 5, 10, 11, 12, 13, 14})
    if (!std::isdigit(static_cast<unsigned char>(tail[size_t(i)]))) return {};
  return {path.substr(0, path.size() - 19), path.substr(path.size() - 14)};
}

}  // namespace

RepoInfo parse_repo_info(const std::string& json_text) {
  const Json j = parse_json(json_text, "the hub's repository listing");
  if (!j.is_object()) throw Error("hub listing: expected a JSON object");
  RepoInfo info;
  if (!j.contains("sha") || !j["sha"].is_string() || !is_hex(j["sha"].get<std::string>(), 40))
    throw Error("hub listing: no commit hash ('sha')");
  info.commit = lower(j["sha"].get<std::string>());
  if (!j.contains("siblings") || !j["siblings"].is_array()) throw Error("hub listing: no file list ('siblings')");
  for (const Json& s : j["siblings"]) {
    if (!s.is_object() || !s.contains("rfilename") || !s["rfilename"].is_string())
      throw Error("hub listing: a file without a name");
    RepoFile f;
    f.path = s["rfilename"].get<std::string>();
    if (!is_safe_relative_path(f.path)) throw Error("hub listing: unsafe file name '" + f.path.substr(0, 200) + "'");
    if (s.contains("size") && !s["size"].is_null()) f.size = size_of(s["size"], f.path);
    if (s.contains("blobId") && s["blobId"].is_string()) {
      f.blob_id = lower(s["blobId"].get<std::string>());
      if (!is_hex(f.blob_id, 40)) throw Error("hub listing: bad blobId for " + f.path);
    }
    if (s.contains("lfs") && s["lfs"].is_object()) {
      const Json& lfs = s["lfs"];
      if (!lfs.contains("sha256") || !lfs["sha256"].is_string() || !is_hex(lfs["sha256"].get<std::string>(), 64))
        throw Error("hub listing: bad LFS sha256 for " + f.path);
      f.sha256 = lower(lfs["sha256"].get<std::string>());
      if (lfs.contains("size")) f.size = size_of(lfs["size"], f.path);
    }
    info.files.push_back(std::move(f));
  }
  return info;
}

std::vector<RepoFile> select_files(const RepoInfo& info, const RepoRef& ref) {
  std::vector<std::string> paths;
  for (const RepoFile& f : info.files) paths.push_back(f.path);
  std::vector<RepoFile> out;
  const std::string gguf = pick_gguf(paths, ref.quant);
  const bool checkpoint = std::find(paths.begin(), paths.end(), "config.json") != paths.end();
  if (!ref.quant.empty() || !checkpoint) {
    if (gguf.empty()) {
      std::string avail;
      for (const std::string& q : gguf_quants(paths)) avail += (avail.empty() ? "" : ", ") + q;
      throw Error(ref.repo + " has no GGUF " + (ref.quant.empty() ? "model file and no config.json" : "of quantization " + ref.quant) +
                  (avail.empty() ? std::string() : " (available: " + avail + ")"));
    }
    const auto [prefix, suffix] = split_pattern(gguf);
    for (const RepoFile& f : info.files) {
      const auto [p, s] = split_pattern(f.path);
      if (f.path == gguf || (!prefix.empty() && p == prefix && lower(s) == lower(suffix))) out.push_back(f);
    }
    return out;
  }
  for (const RepoFile& f : info.files) {
    if (f.path.find('/') != std::string::npos) continue;  // original/, onnx/, ...: not what this engine loads
    const std::string l = lower(f.path);
    if (ends_with(l, ".json") || ends_with(l, ".safetensors") || ends_with(l, ".jinja")) out.push_back(f);
  }
  return out;
}

}  // namespace g4::hub
