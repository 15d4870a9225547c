#include "core/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "core/error.h"

namespace g4 {

namespace {

std::atomic<int> g_load_mode{int(LoadMode::Auto)};

constexpr size_t kHugePage = size_t(2) << 20;
constexpr size_t kReadMinBytes = size_t(256) << 20;

// MemAvailable from /proc/meminfo in bytes (0 when unknown).
size_t available_memory() {
  std::ifstream in("/proc/meminfo");
  std::string key;
  size_t kb = 0;
  std::string unit;
  while (in >> key >> kb >> unit)
    if (key == "MemAvailable:") return kb * 1024;
  return 0;
}

bool should_read(size_t size, LoadMode mode) {
  if (mode != LoadMode::Auto) return mode == LoadMode::Read;
  return size >= kReadMinBytes && size_t(double(available_memory()) * 0.8) > size;
}

// Maps the whole file read-only in place.
const uint8_t* map_file(int fd, size_t size, const std::string& path) {
  void* p = mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) throw Error("cannot memory-map '" + path + "': " + std::strerror(errno));
  return static_cast<const uint8_t*>(p);
}

// Reads the whole file into anonymous memory of `len` bytes (whole huge pages), then write-protects it.
const uint8_t* read_file(int fd, size_t size, size_t len, const std::string& path) {
  void* p = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED)
    throw Error("cannot allocate " + std::to_string(len >> 20) + " MiB to load '" + path + "' (try --load map)");
#ifdef MADV_HUGEPAGE  // Linux only
  madvise(p, len, MADV_HUGEPAGE);  // a hint: without transparent huge pages this is plain memory
#endif
  uint8_t* dst = static_cast<uint8_t*>(p);
  for (size_t done = 0; done < size;) {
    const ssize_t n = pread(fd, dst + done, std::min<size_t>(size - done, size_t(64) << 20), off_t(done));
    if (n <= 0) {
      const int e = n < 0 ? errno : 0;
      munmap(p, len);
      throw Error("cannot read '" + path + "' at byte " + std::to_string(done) + ": " +
                  (e ? std::strerror(e) : "the file ended early (was it truncated while loading?)"));
    }
    done += size_t(n);
  }
  mprotect(p, len, PROT_READ);
  return dst;
}

}  // namespace

void set_default_load_mode(LoadMode mode) { g_load_mode.store(int(mode)); }
LoadMode default_load_mode() { return LoadMode(g_load_mode.load()); }

bool load_copies(size_t size, LoadMode mode) { return should_read(size, mode); }

LoadMode parse_load_mode(const std::string& name) {
  if (name == "auto") return LoadMode::Auto;
  if (name == "map") return LoadMode::Map;
  if (name == "read") return LoadMode::Read;
  throw Error("unknown load mode '" + name + "' (expected one of: auto, map, read)");
}

std::shared_ptr<MappedFile> MappedFile::open(const std::string& path) { return open(path, default_load_mode()); }

std::shared_ptr<MappedFile> MappedFile::open(const std::string& path, LoadMode mode) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw Error("cannot open '" + path + "': " + std::strerror(errno));
  struct stat st {};
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    throw Error("'" + path + "' is not a regular file");
  }
  std::shared_ptr<MappedFile> f(new MappedFile());
  f->path_ = path;
  f->size_ = size_t(st.st_size);
  try {
    if (f->size_ > 0 && should_read(f->size_, mode)) {
      const size_t len = (f->size_ + kHugePage - 1) / kHugePage * kHugePage;
      f->data_ = read_file(fd, f->size_, len, path);
      f->anon_len_ = len;
    } else if (f->size_ > 0) {
      f->data_ = map_file(fd, f->size_, path);
    }
  } catch (...) {
    ::close(fd);
    throw;
  }
  ::close(fd);
  return f;
}

MappedFile::~MappedFile() {
  if (data_) munmap(const_cast<uint8_t*>(data_), anon_len_ ? anon_len_ : size_);
}

std::string read_text_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error("cannot open '" + path + "': " + std::strerror(errno));
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool file_exists(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

bool is_directory(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

}  // namespace g4
