// `gemma4 pull` over libcurl: the repository listing, resumable file transfers, checksums, the cache layout.
#include "hub/hub_download.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

#include "core/error.h"
#include "hub/model_locator.h"

namespace g4::hub {

namespace fs = std::filesystem;

namespace {

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v && *v ? std::string(v) : std::string();
}

std::string trim(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  size_t i = 0;
  while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
  return s.substr(i);
}

std::string human(double b) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (b >= 1024 && u < 4) b /= 1024, ++u;
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", b, units[u]);
  return buf;
}

// Percent-encodes a repo-relative path, keeping '/' between its parts.
std::string url_path(const std::string& path) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : path) {
    if (std::isalnum(c) || c == '/' || c == '-' || c == '_' || c == '.' || c == '~') {
      out += char(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

struct CurlGlobal {
  CurlGlobal() { curl_global_init(CURL_GLOBAL_DEFAULT); }
  ~CurlGlobal() { curl_global_cleanup(); }
};

// One HTTP exchange's status and the headers that matter (of the last response; X-Linked-Etag of any).
struct Response {
  long status = 0;
  std::string error_code, error_message, linked_etag, body;  // body: the API's JSON, or an error page (bounded)
};

size_t on_header(char* data, size_t size, size_t n, void* user) {
  Response* r = static_cast<Response*>(user);
  const std::string line(data, size * n);
  const size_t colon = line.find(':');
  if (line.rfind("HTTP/", 0) == 0) {  // a new response (after a redirect): its own error headers
    r->error_code.clear();
    r->error_message.clear();
  } else if (colon != std::string::npos) {
    std::string key = line.substr(0, colon);
    for (char& c : key) c = char(std::tolower(static_cast<unsigned char>(c)));
    const std::string value = trim(line.substr(colon + 1));
    if (key == "x-error-code") r->error_code = value;
    else if (key == "x-error-message") r->error_message = value;
    else if (key == "x-linked-etag") {
      r->linked_etag = value;
      if (r->linked_etag.rfind("W/", 0) == 0) r->linked_etag = r->linked_etag.substr(2);
      if (r->linked_etag.size() >= 2 && r->linked_etag.front() == '"') r->linked_etag = r->linked_etag.substr(1, r->linked_etag.size() - 2);
    }
  }
  return size * n;
}

class Curl {
 public:
  Curl(const PullOptions& o, const std::string& url, Response* r) : h_(curl_easy_init()) {
    static CurlGlobal global;
    if (!h_) throw Error("could not start libcurl");
    curl_easy_setopt(h_, CURLOPT_URL, url.c_str());
    curl_easy_setopt(h_, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(h_, CURLOPT_MAXREDIRS, 10L);
    curl_easy_setopt(h_, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h_, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h_, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h_, CURLOPT_CONNECTTIMEOUT, 30L);
    curl_easy_setopt(h_, CURLOPT_LOW_SPEED_LIMIT, 1L);  // a transfer stalled for a minute is a broken one
    curl_easy_setopt(h_, CURLOPT_LOW_SPEED_TIME, 60L);
    curl_easy_setopt(h_, CURLOPT_USERAGENT, "gemma4/0.1");
    curl_easy_setopt(h_, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h_, CURLOPT_HEADERDATA, r);
    // libcurl sends a custom Authorization header only to the host asked first, never to a redirect's
    // CDN host (which gets a signed URL instead).
    if (!o.token.empty()) headers_ = curl_slist_append(headers_, ("Authorization: Bearer " + o.token).c_str());
    curl_easy_setopt(h_, CURLOPT_HTTPHEADER, headers_);
  }
  ~Curl() {
    curl_slist_free_all(headers_);
    curl_easy_cleanup(h_);
  }
  CURL* get() { return h_; }
  void add_header(const std::string& h) {
    headers_ = curl_slist_append(headers_, h.c_str());
    curl_easy_setopt(h_, CURLOPT_HTTPHEADER, headers_);
  }

 private:
  CURL* h_;
  curl_slist* headers_ = nullptr;
};

// One clear message for an HTTP failure, with what to do about it.
[[noreturn]] void throw_http(const std::string& repo, const std::string& what, const Response& r, const PullOptions& o) {
  const std::string page = o.endpoint + "/" + repo;
  std::string detail = r.error_message.empty() ? "" : " (the hub says: " + r.error_message.substr(0, 300) + ")";
  if (r.error_code == "RepoNotFound")  // the hub answers 401 for a missing repo when no token is sent
    throw Error("repository " + repo + " not found on " + o.endpoint + " (HTTP " + std::to_string(r.status) + ")" +
                (o.token.empty() ? ": check the id; a private repo needs HF_TOKEN" : ": check the id and your token's access"));
  if (r.status == 401 || r.status == 403) {
    if (o.token.empty())
      throw Error(repo + " is gated or private and no token is set (HTTP " + std::to_string(r.status) + ")" + detail +
                  ": accept its license on " + page +
                  ", create a read token on https://huggingface.co/settings/tokens and set HF_TOKEN to it");
    if (r.status == 403 || r.error_code == "GatedRepo")
      throw Error("your token has no access to " + repo + " (HTTP " + std::to_string(r.status) + ")" + detail +
                  ": request access on " + page + " (Gemma's license must be accepted once per account)");
    throw Error("the hub refused the token in HF_TOKEN for " + repo + " (HTTP 401)" + detail +
                ": it is invalid or expired, or the repo does not exist");
  }
  if (r.status == 404)
    throw Error(what + " not found on " + o.endpoint + " (HTTP 404)" + detail + ": check the repo id and revision");
  throw Error(what + ": HTTP " + std::to_string(r.status) + " from " + o.endpoint + detail);
}

size_t collect_body(char* data, size_t size, size_t n, void* user) {
  std::string* s = static_cast<std::string*>(user);
  if (s->size() + size * n > (64u << 20)) return 0;  // a listing is never this large: abort
  s->append(data, size * n);
  return size * n;
}

RepoInfo fetch_repo_info(const RepoRef& ref, const PullOptions& o) {
  Response r;
  const std::string url = o.endpoint + "/api/models/" + ref.repo + "/revision/" + url_path(o.revision) + "?blobs=true";
  Curl c(o, url, &r);
  curl_easy_setopt(c.get(), CURLOPT_WRITEFUNCTION, collect_body);
  curl_easy_setopt(c.get(), CURLOPT_WRITEDATA, &r.body);
  curl_easy_setopt(c.get(), CURLOPT_TIMEOUT, 120L);
  const CURLcode rc = curl_easy_perform(c.get());
  if (rc != CURLE_OK) throw Error("could not reach " + o.endpoint + ": " + curl_easy_strerror(rc));
  curl_easy_getinfo(c.get(), CURLINFO_RESPONSE_CODE, &r.status);
  if (r.status != 200) throw_http(ref.repo, "repository " + ref.repo + " (revision " + o.revision + ")", r, o);
  return parse_repo_info(r.body);
}

// Hashes a file: SHA-256, or git's blob SHA-1 ("blob <size>\0" + content).
std::string file_digest(const std::string& path, bool git_sha1) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw Error("cannot read " + path);
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(ctx, git_sha1 ? EVP_sha1() : EVP_sha256(), nullptr);
  if (git_sha1) {
    const std::string head = "blob " + std::to_string(fs::file_size(path));
    EVP_DigestUpdate(ctx, head.c_str(), head.size() + 1);  // with its terminating NUL
  }
  std::vector<char> buf(1 << 20);
  while (f.read(buf.data(), std::streamsize(buf.size())) || f.gcount() > 0)
    EVP_DigestUpdate(ctx, buf.data(), size_t(f.gcount()));
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned len = 0;
  EVP_DigestFinal_ex(ctx, md, &len);
  EVP_MD_CTX_free(ctx);
  std::string hex;
  char b[3];
  for (unsigned i = 0; i < len; ++i) std::snprintf(b, sizeof b, "%02x", md[i]), hex += b;
  return hex;
}

// The state of one file transfer, shared with curl's callbacks.
struct Transfer {
  int fd = -1;
  int64_t pos = 0, start = 0, total = -1;  // bytes in the .incomplete file; where this attempt began
  bool decided = false, writing = false;
  CURL* curl = nullptr;
  Response* response = nullptr;
  std::string label;
  bool progress = false;
  std::chrono::steady_clock::time_point t0, last_draw;
  bool failed_write = false;
};

size_t on_body(char* data, size_t size, size_t n, void* user) {
  Transfer* t = static_cast<Transfer*>(user);
  const size_t len = size * n;
  if (!t->decided) {  // the first bytes of the final response: append (206), start over (200), or keep an error
    t->decided = true;
    long status = 0;
    curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &status);
    t->response->status = status;
    if (status == 200 && t->pos > 0) {  // the server ignored the Range request: the whole file again
      if (ftruncate(t->fd, 0) != 0) return 0;
      t->pos = t->start = 0;
    }
    t->writing = status == 200 || status == 206;
  }
  if (!t->writing) {
    if (t->response->body.size() < 4096) t->response->body.append(data, std::min<size_t>(len, 4096));
    return len;
  }
  for (size_t off = 0; off < len;) {
    const ssize_t w = pwrite(t->fd, data + off, len - off, off_t(t->pos));
    if (w <= 0) {
      t->failed_write = true;
      return 0;
    }
    off += size_t(w);
    t->pos += w;
  }
  return len;
}

void draw_progress(Transfer* t, bool final) {
  const auto now = std::chrono::steady_clock::now();
  if (!final && now - t->last_draw < std::chrono::milliseconds(100)) return;
  t->last_draw = now;
  const double secs = std::chrono::duration<double>(now - t->t0).count();
  const double rate = secs > 0 ? double(t->pos - t->start) / secs : 0;
  const int width = 24;
  const int filled = t->total > 0 ? int(std::min<int64_t>(width, t->pos * width / t->total)) : 0;
  std::fprintf(stderr, "\r%-32.32s [%s%s] %3d%% %s / %s  %s/s   ", t->label.c_str(), std::string(size_t(filled), '#').c_str(),
               std::string(size_t(width - filled), ' ').c_str(), t->total > 0 ? int(t->pos * 100 / t->total) : 0,
               human(double(t->pos)).c_str(), t->total > 0 ? human(double(t->total)).c_str() : "?", human(rate).c_str());
  if (final) std::fprintf(stderr, "\n");
  std::fflush(stderr);
}

int on_progress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  Transfer* t = static_cast<Transfer*>(user);
  if (t->progress && t->writing) draw_progress(t, false);
  return 0;
}

// Brings blobs/<name> into being: resumes <name>.incomplete, verifies, renames. Returns bytes fetched.
int64_t fetch_blob(const RepoRef& ref, const RepoInfo& info, const RepoFile& f, const std::string& blob,
                   const PullOptions& o) {
  const std::string part = blob + ".incomplete";
  const int fd = ::open(part.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) throw Error("cannot write " + part + ": " + std::strerror(errno));
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  if (flock(fd, LOCK_EX | LOCK_NB) != 0)
    throw Error("another gemma4 pull is downloading " + f.path + " (" + part + " is locked)");
  struct stat st {};
  fstat(fd, &st);
  Transfer t;
  t.fd = fd;
  t.pos = st.st_size;
  t.total = f.size;
  t.label = f.path;
  t.progress = o.progress;
  if (t.total >= 0 && t.pos > t.total) {  // longer than the file can be: not a prefix of it
    if (ftruncate(fd, 0) != 0) throw Error("cannot truncate " + part);
    t.pos = 0;
  }
  const int64_t resumed_from = t.pos;
  const std::string url = o.endpoint + "/" + ref.repo + "/resolve/" + info.commit + "/" + url_path(f.path);
  for (int attempt = 0; t.total < 0 || t.pos < t.total; ++attempt) {
    Response r;
    Curl c(o, url, &r);
    if (t.pos > 0) c.add_header("Range: bytes=" + std::to_string(t.pos) + "-");
    t.curl = c.get();
    t.response = &r;
    t.decided = t.writing = t.failed_write = false;
    t.start = t.pos;
    t.t0 = t.last_draw = std::chrono::steady_clock::now();
    curl_easy_setopt(c.get(), CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c.get(), CURLOPT_WRITEDATA, &t);
    curl_easy_setopt(c.get(), CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c.get(), CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(c.get(), CURLOPT_XFERINFODATA, &t);
    const CURLcode rc = curl_easy_perform(c.get());
    if (t.failed_write) throw Error("cannot write " + part + ": " + std::strerror(errno));
    long status = 0;
    curl_easy_getinfo(c.get(), CURLINFO_RESPONSE_CODE, &status);
    r.status = status;
    if (rc == CURLE_OK && status == 416) {  // our partial file does not fit the server's: start over
      if (ftruncate(fd, 0) != 0) throw Error("cannot truncate " + part);
      t.pos = 0;
      continue;
    }
    if (rc == CURLE_OK && status != 200 && status != 206) throw_http(ref.repo, f.path + " in " + ref.repo, r, o);
    if (!r.linked_etag.empty() && !f.sha256.empty() && r.linked_etag != f.sha256) {
      ::unlink(part.c_str());  // which of the two is right is unknown: keep neither
      throw Error("the hub's X-Linked-Etag for " + f.path + " (" + r.linked_etag + ") differs from its listing's sha256 (" +
                  f.sha256 + ")");
    }
    if (rc == CURLE_OK && t.total < 0) break;  // no size known: the server's end is the end
    if (rc == CURLE_OK && t.pos == t.total) break;
    if (attempt >= o.retries)
      throw Error("the download of " + f.path + " broke off at " + human(double(t.pos)) + " of " + human(double(t.total)) +
                  " (" + (rc == CURLE_OK ? std::string("short transfer") : curl_easy_strerror(rc)) +
                  "); run the same command again to resume it");
    if (o.progress) std::fprintf(stderr, "\n%s: transfer broke off (%s); resuming at %s\n", f.path.c_str(),
                                 rc == CURLE_OK ? "short transfer" : curl_easy_strerror(rc), human(double(t.pos)).c_str());
    std::this_thread::sleep_for(std::chrono::milliseconds(200 * (attempt + 1)));
  }
  if (o.progress) draw_progress(&t, true);
  if (fsync(fd) != 0) throw Error("cannot write " + part + ": " + std::strerror(errno));
  const bool lfs = !f.sha256.empty();
  const std::string expected = lfs ? f.sha256 : f.blob_id;
  const std::string got = file_digest(part, !lfs);
  if (got != expected) {
    ::unlink(part.c_str());
    throw Error("checksum mismatch for " + f.path + " in " + ref.repo + ": expected " + std::string(lfs ? "sha256 " : "git sha1 ") +
                expected + ", got " + got + " (the download was deleted; nothing was added to the cache)");
  }
  if (::rename(part.c_str(), blob.c_str()) != 0) throw Error("cannot rename " + part + ": " + std::strerror(errno));
  return t.pos - resumed_from;
}

// snapshots/<commit>/<path> -> ../../blobs/<name> (one more ../ per subfolder), replaced atomically.
void link_snapshot(const std::string& repo_root, const std::string& commit, const std::string& path, const std::string& name) {
  const fs::path link = fs::path(repo_root) / "snapshots" / commit / path;
  fs::create_directories(link.parent_path());
  std::string target = "../../";
  for (char c : path)
    if (c == '/') target += "../";
  target += "blobs/" + name;
  const fs::path tmp = link.string() + ".tmp-link";
  std::error_code ec;
  fs::remove(tmp, ec);
  fs::create_symlink(target, tmp);
  fs::rename(tmp, link);
}

void write_ref(const std::string& repo_root, const std::string& revision, const std::string& commit) {
  const fs::path ref = fs::path(repo_root) / "refs" / revision;
  fs::create_directories(ref.parent_path());
  const std::string tmp = ref.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << commit;
    if (!out) throw Error("cannot write " + tmp);
  }
  fs::rename(tmp, ref);
}

}  // namespace

PullOptions pull_options_from_env(PullOptions o) {
  if (o.endpoint.empty()) o.endpoint = env("HF_ENDPOINT");
  if (o.endpoint.empty()) o.endpoint = "https://huggingface.co";
  while (!o.endpoint.empty() && o.endpoint.back() == '/') o.endpoint.pop_back();
  if (o.token.empty()) o.token = env("HF_TOKEN");
  if (o.token.empty()) o.token = env("HUGGING_FACE_HUB_TOKEN");
  if (o.token.empty()) {  // where `hf auth login` keeps it
    std::string path = env("HF_TOKEN_PATH");
    if (path.empty()) path = (env("HF_HOME").empty() ? env("HOME") + "/.cache/huggingface" : env("HF_HOME")) + "/token";
    std::ifstream f(path);
    if (f) std::getline(f, o.token);
    o.token = trim(o.token);
  }
  return o;
}

PullResult pull(const RepoRef& ref, const PullOptions& o) {
  const std::string offline = env("HF_HUB_OFFLINE");
  if (offline == "1" || offline == "true" || offline == "yes" || offline == "ON")
    throw Error("HF_HUB_OFFLINE is set: not downloading " + ref.str() + " (unset it to pull)");
  if (!is_valid_repo_id(ref.repo)) throw Error("'" + ref.repo + "' is not a Hugging Face repo id (org/name)");
  if (o.revision.empty() || !is_safe_relative_path(o.revision)) throw Error("bad revision '" + o.revision + "'");
  const RepoInfo info = fetch_repo_info(ref, o);
  const std::vector<RepoFile> files = select_files(info, ref);
  const std::string root = repo_dir(ref.repo);
  fs::create_directories(root + "/blobs");
  PullResult res;
  res.snapshot = root + "/snapshots/" + info.commit;
  for (const RepoFile& f : files) {
    const std::string name = !f.sha256.empty() ? f.sha256 : f.blob_id;
    if (name.empty()) throw Error("the hub gave no checksum for " + f.path + " in " + ref.repo + ": refusing to download it unverified");
    const std::string blob = root + "/blobs/" + name;
    std::error_code ec;
    if (fs::is_regular_file(blob, ec) && (f.size < 0 || int64_t(fs::file_size(blob, ec)) == f.size)) {
      ++res.files_cached;
    } else {
      res.downloaded += fetch_blob(ref, info, f, blob, o);
      ++res.files_fetched;
    }
    link_snapshot(root, info.commit, f.path, name);
  }
  if (o.revision != info.commit) write_ref(root, o.revision, info.commit);
  std::vector<std::string> paths;
  for (const RepoFile& f : files) paths.push_back(f.path);
  const std::string gguf = pick_gguf(paths, ref.quant);
  res.model_path = gguf.empty() ? res.snapshot : res.snapshot + "/" + gguf;
  return res;
}

}  // namespace g4::hub
