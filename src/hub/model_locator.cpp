#include "hub/model_locator.h"

#include <algorithm>
#include <cstring>
#include <fstream>

#include "core/error.h"
#include "core/mapped_file.h"

namespace g4::hub {

namespace {

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const std::string& x : v) s += (s.empty() ? "" : ", ") + x;
  return s;
}

// The GGUF to load from a folder's files (GGUF by name, or by magic when the name says nothing).
std::string gguf_in_folder(const std::string& dir, const std::vector<std::string>& files, const std::string& quant) {
  std::string pick = pick_gguf(files, quant);
  if (!pick.empty() || !quant.empty()) return pick;
  for (const std::string& f : files)
    if (f.find('/') == std::string::npos && has_gguf_magic(dir + "/" + f)) return f;
  return "";
}

}  // namespace

bool has_gguf_magic(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  char magic[4] = {};
  return f.read(magic, 4) && std::memcmp(magic, "GGUF", 4) == 0;
}

LocatedModel locate_model(const std::string& spec) {
  LocatedModel m;
  if (spec.empty()) throw Error("--model: empty model name");
  if (is_directory(spec)) {
    std::string dir = spec;
    while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
    m.path = dir;
    if (file_exists(dir + "/config.json")) return m;
    const std::string gguf = gguf_in_folder(dir, list_files(dir), "");
    if (!gguf.empty()) m.path = dir + "/" + gguf;
    return m;  // neither: the loader names what is missing
  }
  if (file_exists(spec)) {
    m.path = spec;
    return m;
  }
  std::optional<RepoRef> ref = parse_repo_ref(spec);
  if (!ref)
    throw Error("model path '" + spec + "' does not exist (give a model folder, a GGUF file, or a Hugging Face repo id " +
                "such as google/gemma-4-E2B-it or ORG/gemma-4-E2B-it-GGUF:Q8_0)");
  m.ref = *ref;
  const std::optional<std::string> snap = cached_snapshot(ref->repo);
  if (!snap) {
    m.kind = LocatedModel::Kind::NotCached;
    m.hint = "looked in " + cache_dir();
    return m;
  }
  const std::vector<std::string> files = list_files(*snap);
  const bool hf_folder = std::find(files.begin(), files.end(), "config.json") != files.end();
  if (ref->quant.empty() && hf_folder) {
    m.kind = LocatedModel::Kind::Cached;
    m.path = *snap;
    return m;
  }
  const std::string gguf = gguf_in_folder(*snap, files, ref->quant);
  if (gguf.empty()) {
    m.kind = LocatedModel::Kind::NotCached;
    const std::vector<std::string> quants = gguf_quants(files);
    m.hint = ref->quant.empty() ? "the cached snapshot " + *snap + " holds no model"
                                : "no " + ref->quant + " GGUF in its cached snapshot" +
                                      (quants.empty() ? std::string() : "; cached: " + join(quants));
    return m;
  }
  m.kind = LocatedModel::Kind::Cached;
  m.path = *snap + "/" + gguf;
  return m;
}

}  // namespace g4::hub
