#include "hub/hub_cache.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace g4::hub {

namespace fs = std::filesystem;

namespace {

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v && *v ? std::string(v) : std::string();
}

std::string upper(std::string s) {
  for (char& c : s) c = char(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

bool ends_with_icase(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && upper(s.substr(s.size() - suffix.size())) == upper(suffix);
}

bool is_word_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

bool is_hex(const std::string& s, size_t n) {
  return s.size() == n && std::all_of(s.begin(), s.end(), [](char c) { return std::isxdigit(static_cast<unsigned char>(c)); });
}

// The file name without ".gguf" and without a split suffix "-00001-of-00003"; `index` gets the part number.
std::string gguf_stem(const std::string& path, int* index) {
  if (index) *index = 1;
  if (!ends_with_icase(path, ".gguf")) return "";
  std::string stem = path.substr(0, path.size() - 5);
  // -NNNNN-of-NNNNN
  if (stem.size() > 15 && stem[stem.size() - 15] == '-' && upper(stem.substr(stem.size() - 9, 4)) == "-OF-") {
    const std::string a = stem.substr(stem.size() - 14, 5), b = stem.substr(stem.size() - 5);
    if (std::all_of(a.begin(), a.end(), ::isdigit) && std::all_of(b.begin(), b.end(), ::isdigit)) {
      if (index) *index = std::atoi(a.c_str());
      stem.resize(stem.size() - 15);
    }
  }
  return stem;
}

}  // namespace

bool is_valid_repo_id(const std::string& repo) {
  if (repo.empty() || repo.size() > 200) return false;
  int slashes = 0;
  bool after_special = true;  // at the start, and after '/', '.' or '-': a word character must follow
  size_t part_len = 0;
  for (char c : repo) {
    if (is_word_char(c)) {
      after_special = false;
      if (++part_len > 96) return false;
    } else if (c == '/' || c == '.' || c == '-') {
      if (after_special) return false;
      if (c == '/') ++slashes, part_len = 0;
      else ++part_len;
      after_special = true;
    } else {
      return false;
    }
  }
  return !after_special && slashes == 1;
}

std::optional<RepoRef> parse_repo_ref(const std::string& spec) {
  RepoRef r;
  const size_t colon = spec.find(':');
  r.repo = spec.substr(0, colon);
  if (colon != std::string::npos) {
    r.quant = upper(spec.substr(colon + 1));
    if (r.quant.empty() || r.quant.size() > 32 || !std::all_of(r.quant.begin(), r.quant.end(), is_word_char))
      return std::nullopt;
  }
  if (!is_valid_repo_id(r.repo)) return std::nullopt;
  return r;
}

std::string cache_dir() {
  if (std::string v = env("HF_HUB_CACHE"); !v.empty()) return v;
  if (std::string v = env("HUGGINGFACE_HUB_CACHE"); !v.empty()) return v;  // the older name
  if (std::string v = env("HF_HOME"); !v.empty()) return v + "/hub";
  if (std::string v = env("XDG_CACHE_HOME"); !v.empty()) return v + "/huggingface/hub";
  return env("HOME") + "/.cache/huggingface/hub";
}

std::string repo_dir(const std::string& repo) {
  std::string folder = "models--" + repo;
  for (size_t p = folder.find('/'); p != std::string::npos; p = folder.find('/', p)) folder.replace(p, 1, "--");
  return cache_dir() + "/" + folder;
}

std::optional<std::string> cached_snapshot(const std::string& repo, const std::string& revision) {
  const std::string dir = repo_dir(repo);
  std::string commit = revision;
  if (!is_hex(revision, 40)) {
    if (!is_safe_relative_path(revision)) return std::nullopt;
    std::ifstream f(dir + "/refs/" + revision);
    if (!f || !std::getline(f, commit)) return std::nullopt;
    while (!commit.empty() && std::isspace(static_cast<unsigned char>(commit.back()))) commit.pop_back();
    if (!is_hex(commit, 40)) return std::nullopt;
  }
  const std::string snap = dir + "/snapshots/" + commit;
  std::error_code ec;
  if (!fs::is_directory(snap, ec)) return std::nullopt;
  return snap;
}

std::vector<std::string> list_files(const std::string& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, fs::directory_options::follow_directory_symlink, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    std::error_code e2;
    if (fs::is_regular_file(it->path(), e2))  // follows the snapshot's symlinks; dangling ones are false
      out.push_back(it->path().lexically_relative(dir).generic_string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string gguf_quant_tag(const std::string& path) {
  const std::string stem = gguf_stem(path, nullptr);
  size_t i = stem.size();
  while (i > 0 && is_word_char(stem[i - 1])) --i;
  if (i == 0 || i == stem.size() || (stem[i - 1] != '-' && stem[i - 1] != '.')) return "";
  return upper(stem.substr(i));
}

bool gguf_is_model_file(const std::string& path) {
  if (!ends_with_icase(path, ".gguf")) return false;
  const std::string name = path.substr(path.find_last_of('/') == std::string::npos ? 0 : path.find_last_of('/') + 1);
  const std::string u = upper(name);
  for (const char* skip : {"MMPROJ", "IMATRIX", "MTP-", "EAGLE3-", "DFLASH-", "DSPARK-"})
    if (u.find(skip) != std::string::npos) return false;
  return true;
}

std::string pick_gguf(const std::vector<std::string>& files, const std::string& quant) {
  auto first_part = [](const std::string& f) {
    int index = 1;
    gguf_stem(f, &index);
    return index == 1;
  };
  std::vector<std::string> tags = quant.empty() ? std::vector<std::string>{"Q4_K_M", "Q8_0"}
                                                : std::vector<std::string>{upper(quant)};
  for (const std::string& t : tags) {
    // An exact tag first (so Q4_K_M does not pick IQ4_K_M), then llama.cpp's "<tag>." / "<tag>-" anywhere.
    for (const std::string& f : files)
      if (gguf_is_model_file(f) && first_part(f) && gguf_quant_tag(f) == t) return f;
    for (const std::string& f : files) {
      const std::string u = upper(f);
      if (gguf_is_model_file(f) && first_part(f) &&
          (u.find(t + ".") != std::string::npos || u.find(t + "-") != std::string::npos))
        return f;
    }
  }
  if (quant.empty())
    for (const std::string& f : files)
      if (gguf_is_model_file(f) && first_part(f)) return f;
  return "";
}

std::vector<std::string> gguf_quants(const std::vector<std::string>& files) {
  std::vector<std::string> out;
  for (const std::string& f : files) {
    const std::string t = gguf_is_model_file(f) ? gguf_quant_tag(f) : "";
    if (!t.empty() && std::find(out.begin(), out.end(), t) == out.end()) out.push_back(t);
  }
  return out;
}

bool is_safe_relative_path(const std::string& path) {
  if (path.empty() || path.size() > 1024 || path[0] == '/') return false;
  size_t start = 0;
  for (;;) {
    const size_t slash = path.find('/', start);
    const std::string part = path.substr(start, slash == std::string::npos ? std::string::npos : slash - start);
    if (part.empty() || part == "." || part == "..") return false;
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  for (char c : path)
    if (static_cast<unsigned char>(c) < 0x20 || c == '\\' || c == 0x7f) return false;
  return true;
}

}  // namespace g4::hub
