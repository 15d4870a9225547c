#pragma once
// A read-only view of a whole file: either memory-mapped in place, or (for large model files, when it
// fits in free memory) read once into anonymous memory backed by 2 MiB pages. Decoding streams every
// weight once per token; from a file mapping with 4 KiB pages that ran at ~20 GB/s here, from
// huge-page memory at ~37 GB/s (E2B Q8_0, 2 threads) — the page walks and 4 KiB prefetch boundaries
// were the difference. The copy is made read-only after loading.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace g4 {

// How MappedFile::open brings a file into memory.
enum class LoadMode {
  Auto,  // Read for files of at least 256 MiB that fit in 80 % of the available memory, else Map
  Map,   // memory-map in place (least memory; the page cache holds the data)
  Read,  // read into anonymous huge-page memory
};
// Process-wide mode for MappedFile::open (the CLI's --load option); Auto unless set.
void set_default_load_mode(LoadMode mode);
LoadMode default_load_mode();
// Parses "auto", "map" or "read"; throws g4::Error otherwise.
LoadMode parse_load_mode(const std::string& name);
// Whether MappedFile::open would copy a file of `size` bytes into memory (true) or map it (false) under `mode`.
bool load_copies(size_t size, LoadMode mode);

class MappedFile {
 public:
  // Throws g4::Error naming the path when the file cannot be opened, mapped or read.
  static std::shared_ptr<MappedFile> open(const std::string& path);
  static std::shared_ptr<MappedFile> open(const std::string& path, LoadMode mode);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }
  // True when the data is an in-memory copy rather than a mapping of the file.
  bool in_memory() const { return anon_len_ != 0; }

 private:
  MappedFile() = default;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
  size_t anon_len_ = 0;  // non-zero: data_ is an anonymous copy of this many bytes (whole huge pages)
  std::string path_;
};

// Reads a whole (small) file into a string; throws g4::Error naming the path on failure.
std::string read_text_file(const std::string& path);
bool file_exists(const std::string& path);
bool is_directory(const std::string& path);

}  // namespace g4
