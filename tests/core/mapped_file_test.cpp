// MappedFile's two ways into memory (map in place, read into huge-page memory) give the same bytes;
// the mode names parse strictly; missing files fail clearly in both modes.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/mapped_file.h"

namespace g4 {
namespace {

std::string temp_path(const std::string& name) {
  return ::testing::TempDir() + "/g4_mapped_" + std::to_string(::getpid()) + "_" + name;
}

TEST(MappedFile, MapAndReadGiveTheSameBytes) {
  const std::string path = temp_path("bytes.bin");
  std::vector<char> data((size_t(3) << 20) + 12345);  // crosses a 2 MiB page and ends mid-page
  for (size_t i = 0; i < data.size(); ++i) data[i] = char((i * 2654435761u) >> 13);
  std::ofstream(path, std::ios::binary).write(data.data(), std::streamsize(data.size()));
  auto mapped = MappedFile::open(path, LoadMode::Map);
  auto read = MappedFile::open(path, LoadMode::Read);
  EXPECT_FALSE(mapped->in_memory());
  EXPECT_TRUE(read->in_memory());
  ASSERT_EQ(mapped->size(), data.size());
  ASSERT_EQ(read->size(), data.size());
  EXPECT_EQ(std::memcmp(mapped->data(), data.data(), data.size()), 0);
  EXPECT_EQ(std::memcmp(read->data(), data.data(), data.size()), 0);
  // Auto maps small files (reading pays off only for large model files).
  EXPECT_FALSE(MappedFile::open(path, LoadMode::Auto)->in_memory());
  std::remove(path.c_str());
}

TEST(MappedFile, EmptyFileAndMissingFile) {
  const std::string path = temp_path("empty.bin");
  std::ofstream(path, std::ios::binary).close();
  EXPECT_EQ(MappedFile::open(path, LoadMode::Read)->size(), 0u);
  std::remove(path.c_str());
  for (LoadMode m : {LoadMode::Map, LoadMode::Read}) {
    try {
      MappedFile::open(path, m);
      FAIL() << "expected an error";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
    }
  }
}

TEST(MappedFile, LoadModeNames) {
  EXPECT_EQ(parse_load_mode("auto"), LoadMode::Auto);
  EXPECT_EQ(parse_load_mode("map"), LoadMode::Map);
  EXPECT_EQ(parse_load_mode("read"), LoadMode::Read);
  try {
    parse_load_mode("mmap");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("auto, map, read"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace g4
