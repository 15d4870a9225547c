// GGUF reader/writer: the real Gemma 4 vocabulary file, writer -> reader round trips, and truncated
// or corrupted files (every one must give a g4::Error naming the file, never a crash).
#include <gtest/gtest.h>

#include <array>
#include <cstring>
#include <fstream>

#include "core/error.h"
#include "core/mapped_file.h"
#include "formats/gguf.h"
#include "formats/gguf_writer.h"

using namespace g4;

namespace {

const std::string kVocab = std::string(G4_SHARED_DIR) + "/fixtures/tokenizer/gemma4-vocab.gguf";

// Expects parse() to throw a g4::Error whose message contains `fragment` and the label.
void expect_parse_error(const std::vector<uint8_t>& bytes, const std::string& fragment) {
  try {
    GgufFile::parse(bytes.data(), bytes.size(), "test.gguf");
    ADD_FAILURE() << "no error; expected one mentioning \"" << fragment << "\"";
  } catch (const Error& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find(fragment), std::string::npos) << msg;
    EXPECT_NE(msg.find("test.gguf"), std::string::npos) << msg;
  }
}

// A raw GGUF image builder for hand-made (possibly invalid) files.
struct Raw {
  std::vector<uint8_t> b;
  Raw& u32(uint32_t v) { return put(&v, 4); }
  Raw& u64(uint64_t v) { return put(&v, 8); }
  Raw& str(const std::string& s) {
    u64(s.size());
    return put(s.data(), s.size());
  }
  Raw& put(const void* p, size_t n) {
    const uint8_t* c = static_cast<const uint8_t*>(p);
    b.insert(b.end(), c, c + n);
    return *this;
  }
  Raw& header(uint64_t n_tensors, uint64_t n_kv, uint32_t version = 3) {
    put("GGUF", 4);
    u32(version);
    u64(n_tensors);
    return u64(n_kv);
  }
  Raw& kv_u32(const std::string& key, uint32_t v) {
    str(key);
    u32(4);
    return u32(v);
  }
  Raw& tensor(const std::string& name, std::vector<uint64_t> ne, uint32_t type, uint64_t offset) {
    str(name);
    u32(uint32_t(ne.size()));
    for (uint64_t d : ne) u64(d);
    u32(type);
    return u64(offset);
  }
  Raw& pad(size_t a = 32) {
    while (b.size() % a) b.push_back(0);
    return *this;
  }
  Raw& zeros(size_t n) {
    b.insert(b.end(), n, 0);
    return *this;
  }
};

std::vector<float> iota_f32(size_t n) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = float(i) * 0.5f - 3;
  return v;
}

// A small file with every metadata type and tensors of several types; the last tensor fills its
// alignment exactly, so the file has no trailing padding (every truncation loses data).
GgufWriter sample_writer(uint32_t alignment = 32) {
  GgufWriter w(alignment);
  w.set("u8", GgufValue::u8(200));
  w.set("i8", GgufValue::i8(-100));
  w.set("u16", GgufValue::u16(60000));
  w.set("i16", GgufValue::i16(-30000));
  w.set("u32", GgufValue::u32(4000000000u));
  w.set("i32", GgufValue::i32(-2000000000));
  w.set("u64", GgufValue::u64(1ull << 60));
  w.set("i64", GgufValue::i64(-(1ll << 60)));
  w.set("f32", GgufValue::f32(1.5f));
  w.set("f64", GgufValue::f64(-2.25));
  w.set("bool", GgufValue::boolean(true));
  w.set_string("general.architecture", "gemma4");
  w.set_string("empty", "");
  w.set("nul", GgufValue::string(std::string("a\0b", 3)));
  w.set("ints", GgufValue::int_array(GgufType::I32, {1, -2, 3}));
  w.set("u8s", GgufValue::int_array(GgufType::U8, {0, 255}));
  w.set("bools", GgufValue::int_array(GgufType::BOOL, {1, 0, 1}));
  w.set("floats", GgufValue::float_array(GgufType::F32, {0.25, -8}));
  w.set("doubles", GgufValue::float_array(GgufType::F64, {1e300}));
  w.set_strings("strings", {"x", "", "\xE2\x96\x81y z"});
  w.set("nested", GgufValue::array_of_arrays({GgufValue::int_array(GgufType::U16, {7, 8}),
                                              GgufValue::string_array({"deep"}),
                                              GgufValue::array_of_arrays({GgufValue::int_array(GgufType::I64, {-1})})}));
  w.set("empty_array", GgufValue::int_array(GgufType::U32, {}));
  std::vector<float> a = iota_f32(6);
  w.add_tensor("a.f32", 0, {3, 2}, std::vector<uint8_t>(reinterpret_cast<uint8_t*>(a.data()), reinterpret_cast<uint8_t*>(a.data()) + 24));
  w.add_tensor("b.q8_0", 8, {64, 1}, std::vector<uint8_t>(68, 7));
  w.add_tensor("c.q4_k", 12, {256}, std::vector<uint8_t>(144, 9));
  w.add_tensor("d.iq2_xxs", 16, {256}, std::vector<uint8_t>(66, 1));  // parsed, but unsupported
  std::vector<float> last = iota_f32(alignment / 4);
  w.add_tensor("e.last", 0, {int64_t(alignment / 4)},
               std::vector<uint8_t>(reinterpret_cast<uint8_t*>(last.data()), reinterpret_cast<uint8_t*>(last.data()) + alignment));
  return w;
}

}  // namespace

TEST(Gguf, ReadsGemma4VocabFixture) {
  auto g = GgufFile::open(kVocab);
  EXPECT_EQ(g->version(), 3u);
  EXPECT_EQ(g->get_string("tokenizer.ggml.model"), "gemma4");
  EXPECT_EQ(g->get_array_strings("tokenizer.ggml.tokens").size(), 262144u);
  EXPECT_EQ(g->get_array_strings("tokenizer.ggml.merges").size(), 514906u);
  EXPECT_EQ(g->get_array_strings("tokenizer.ggml.tokens")[105], "<|turn>");
  EXPECT_EQ(g->get_array_ints("tokenizer.ggml.token_type").size(), 262144u);
  EXPECT_EQ(g->get_array_floats("tokenizer.ggml.scores")[0], -1000.0f);
  EXPECT_EQ(g->get_u32("tokenizer.ggml.bos_token_id"), 2u);
  EXPECT_EQ(g->get_i64("tokenizer.ggml.eos_token_id"), 1);
  EXPECT_TRUE(g->get_bool("tokenizer.ggml.add_bos_token"));
  EXPECT_FALSE(g->get_bool("tokenizer.ggml.add_space_prefix"));
  EXPECT_EQ(g->get_u32("gemma4.block_count"), 30u);
  EXPECT_FLOAT_EQ(g->get_f32("gemma4.rope.freq_base"), 1e6f);
  EXPECT_EQ(g->get_array_ints("gemma4.attention.head_count_kv").size(), 30u);
  EXPECT_EQ(g->get_array_ints("gemma4.attention.sliding_window_pattern")[0], 1);
  EXPECT_TRUE(g->tensors().empty());
  EXPECT_EQ(g->find_tensor("token_embd.weight"), nullptr);
  EXPECT_EQ(g->get_u32("missing", 7u), 7u);
  try {
    g->get_string("no.such.key");
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("no.such.key"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("gemma4-vocab.gguf"), std::string::npos);
  }
  EXPECT_THROW(g->get_u32("tokenizer.ggml.model"), Error);     // a string, not an integer
  EXPECT_THROW(g->get_string("gemma4.block_count"), Error);    // an integer, not a string
  EXPECT_THROW(g->get_array_strings("gemma4.block_count"), Error);
}

TEST(Gguf, WriterReaderRoundTrip) {
  for (uint32_t alignment : {32u, 64u}) {
    std::vector<uint8_t> bytes = sample_writer(alignment).serialize();
    auto g = GgufFile::parse(bytes.data(), bytes.size(), "roundtrip.gguf");
    EXPECT_EQ(g->alignment(), alignment);
    EXPECT_EQ(g->get_u32("u8"), 200u);
    EXPECT_EQ(g->get_i64("i8"), -100);
    EXPECT_EQ(g->get_u32("u16"), 60000u);
    EXPECT_EQ(g->get_i64("i16"), -30000);
    EXPECT_EQ(g->get_u32("u32"), 4000000000u);
    EXPECT_EQ(g->get_i64("i32"), -2000000000);
    EXPECT_EQ(g->get_u64("u64"), 1ull << 60);
    EXPECT_EQ(g->get_i64("i64"), -(1ll << 60));
    EXPECT_THROW(g->get_u32("u64"), Error);  // does not fit
    EXPECT_THROW(g->get_u32("i8"), Error);   // negative
    EXPECT_EQ(g->get_f32("f32"), 1.5f);
    EXPECT_EQ(g->get("f64").as_f64(), -2.25);
    EXPECT_THROW(g->get_f32("u16"), Error);  // an integer is not read as a float
    EXPECT_TRUE(g->get_bool("bool"));
    EXPECT_EQ(g->get_string("empty"), "");
    EXPECT_EQ(g->get_string("nul"), std::string("a\0b", 3));
    EXPECT_EQ(g->get_array_ints("ints"), (std::vector<int64_t>{1, -2, 3}));
    EXPECT_EQ(g->get_array_ints("u8s"), (std::vector<int64_t>{0, 255}));
    EXPECT_EQ(g->get_array_ints("bools"), (std::vector<int64_t>{1, 0, 1}));
    EXPECT_EQ(g->get_array_floats("floats"), (std::vector<float>{0.25f, -8.f}));
    EXPECT_EQ(g->get("doubles").float_at(0), 1e300);
    EXPECT_EQ(g->get_array_strings("strings"), (std::vector<std::string_view>{"x", "", "\xE2\x96\x81y z"}));
    const GgufValue& nested = g->get("nested");
    ASSERT_EQ(nested.elem_type(), GgufType::ARRAY);
    ASSERT_EQ(nested.size(), 3u);
    EXPECT_EQ(nested.array_at(0).int_at(1), 8);
    EXPECT_EQ(nested.array_at(1).string_at(0), "deep");
    EXPECT_EQ(nested.array_at(2).array_at(0).int_at(0), -1);
    EXPECT_EQ(g->get("empty_array").size(), 0u);
    EXPECT_NE(nested.to_string().find("deep"), std::string::npos);

    ASSERT_EQ(g->tensors().size(), 5u);
    const GgufTensor* a = g->find_tensor("a.f32");
    ASSERT_NE(a, nullptr);
    EXPECT_EQ(a->ne, (std::vector<int64_t>{3, 2}));
    EXPECT_EQ(a->nbytes, 24u);
    EXPECT_TRUE(a->supported);
    EXPECT_EQ(std::memcmp(a->data, iota_f32(6).data(), 24), 0);
    EXPECT_EQ(a->shape_str(), "[3, 2]");
    EXPECT_EQ(g->find_tensor("b.q8_0")->nbytes, 68u);
    EXPECT_EQ(g->find_tensor("b.q8_0")->data[67], 7);
    EXPECT_EQ(g->find_tensor("c.q4_k")->type_name(), "Q4_K");
    const GgufTensor* iq = g->find_tensor("d.iq2_xxs");
    EXPECT_TRUE(iq->supported);  // every type published files use is computable
    EXPECT_EQ(iq->nbytes, 66u);
    EXPECT_NO_THROW(g->require_supported(*iq));
    EXPECT_NO_THROW(g->require_supported(*a));
    for (const GgufTensor& t : g->tensors()) {
      EXPECT_EQ((t.data - bytes.data()) % alignment, 0u) << t.name;
      EXPECT_EQ(t.offset % alignment, 0u);
    }
  }
}

TEST(Gguf, WriterFileCopyAndErrors) {
  std::string path = testing::TempDir() + "g4_writer_test.gguf";
  sample_writer().write(path);
  auto g = GgufFile::open(path);
  EXPECT_EQ(g->get_string("general.architecture"), "gemma4");
  // Copy metadata and tensors into a new file.
  GgufWriter w2;
  w2.copy_metadata(*g);
  for (const GgufTensor& t : g->tensors()) w2.add_tensor(t.name, t.ggml_type, t.ne, t.data, t.nbytes);
  std::vector<uint8_t> copy = w2.serialize();
  std::string original = read_text_file(path);
  EXPECT_EQ(std::string(copy.begin(), copy.end()), original);

  GgufWriter w;
  EXPECT_THROW(w.add_tensor("x", 8, {33}, std::vector<uint8_t>(34)), Error);  // not a whole Q8_0 block
  EXPECT_THROW(w.add_tensor("x", 0, {4}, std::vector<uint8_t>(15)), Error);   // wrong byte count
  EXPECT_THROW(w.add_tensor("x", 99, {4}, std::vector<uint8_t>(16)), Error);  // unknown type
  w.add_tensor("x", 0, {4}, std::vector<uint8_t>(16));
  EXPECT_THROW(w.add_tensor("x", 0, {4}, std::vector<uint8_t>(16)), Error);   // duplicate
  EXPECT_THROW(GgufWriter(48), Error);
  EXPECT_THROW(w.write("/nonexistent-dir/x.gguf"), Error);
}

TEST(Gguf, EveryTruncationIsAnError) {
  std::vector<uint8_t> bytes = sample_writer().serialize();
  int errors = 0;
  for (size_t cut = 0; cut < bytes.size(); ++cut) {
    try {
      GgufFile::parse(bytes.data(), cut, "cut.gguf");
      ADD_FAILURE() << "truncation at " << cut << " of " << bytes.size() << " parsed without error";
    } catch (const Error& e) {
      ++errors;
      EXPECT_NE(std::string(e.what()).find("cut.gguf"), std::string::npos);
    }
  }
  EXPECT_EQ(errors, int(bytes.size()));
  std::printf("[ fixture  ] %d/%zu truncated copies of a %zu-byte file rejected\n", errors, bytes.size(), bytes.size());

  // The real vocabulary file, cut at many points (including inside the token and merge arrays).
  auto f = MappedFile::open(kVocab);
  int vocab_errors = 0, cuts = 0;
  for (size_t cut = 0; cut < f->size(); cut += f->size() / 97 + 1) {
    ++cuts;
    try {
      GgufFile::parse(f->data(), cut, "vocab-cut.gguf");
    } catch (const Error&) {
      ++vocab_errors;
    }
  }
  for (size_t cut : {f->size() - 1, f->size() - 2, f->size() - 9}) {
    ++cuts;
    try {
      GgufFile::parse(f->data(), cut, "vocab-cut.gguf");
    } catch (const Error&) {
      ++vocab_errors;
    }
  }
  EXPECT_EQ(vocab_errors, cuts);
}

TEST(Gguf, CorruptHeadersAreClearErrors) {
  expect_parse_error({}, "unexpected end of file");
  expect_parse_error({'G', 'G', 'U', 'X', 3, 0, 0, 0}, "not a GGUF file");
  expect_parse_error(Raw().header(0, 0, 1).b, "version 1");
  expect_parse_error(Raw().header(0, 0, 4).b, "unsupported GGUF version 4");
  expect_parse_error(Raw().header(0, 1ull << 60).b, "metadata count");
  expect_parse_error(Raw().header(1ull << 40, 0).b, "tensor count");
  expect_parse_error(Raw().header(0, 1).u64(1ull << 62).zeros(16).b, "beyond the end of the file");  // key length
  expect_parse_error(Raw().header(0, 1).str("k").u32(77).b, "unknown value type id 77");
  expect_parse_error(Raw().header(0, 1).str("k").u32(9).u32(8).u64(1ull << 50).b, "more than the rest of the file");
  expect_parse_error(Raw().header(0, 1).str("k").u32(9).u32(9).u64(1ull << 40).b, "more than the rest of the file");
  expect_parse_error(Raw().header(0, 1).str("k").u32(7).put("\x05", 1).b, "not 0 or 1");
  expect_parse_error(Raw().header(0, 2).kv_u32("k", 1).kv_u32("k", 2).b, "appears twice");
  expect_parse_error(Raw().header(0, 1).kv_u32("general.alignment", 48).b, "not a power of two");
  expect_parse_error(Raw().header(0, 1).kv_u32("general.alignment", 0).b, "not a power of two");
  // A deeply nested array.
  Raw deep;
  deep.header(0, 1).str("k").u32(9);
  for (int i = 0; i < 20; ++i) deep.u32(9).u64(1);
  deep.u32(4).u64(0);
  expect_parse_error(deep.b, "nested");

  auto one_tensor = [](std::vector<uint64_t> ne, uint32_t type, uint64_t offset, size_t data) {
    return Raw().header(1, 0).tensor("t", ne, type, offset).pad().zeros(data).b;
  };
  EXPECT_NO_THROW(GgufFile::parse(one_tensor({8}, 0, 0, 32).data(), one_tensor({8}, 0, 0, 32).size(), "ok.gguf"));
  expect_parse_error(one_tensor({8}, 99, 0, 32), "unknown ggml type id 99");
  expect_parse_error(one_tensor({8}, 4, 0, 32), "unknown ggml type id 4");  // removed Q4_2
  expect_parse_error(one_tensor({1, 1, 1, 1, 1}, 0, 0, 32), "5 dimensions");
  expect_parse_error(one_tensor({8}, 0, 16, 64), "not a multiple of the alignment");
  expect_parse_error(one_tensor({8}, 0, 1ull << 62, 32), "beyond the end of the file");
  expect_parse_error(one_tensor({9}, 0, 0, 32), "beyond the end of the file");  // 36 bytes needed
  expect_parse_error(one_tensor({1ull << 40, 1ull << 40}, 0, 0, 32), "too many elements");
  expect_parse_error(one_tensor({33}, 8, 0, 64), "not a multiple of its block size");
  expect_parse_error(Raw().header(1, 0).tensor("t", {8}, 0, 0).b, "ends before its data section");
  expect_parse_error(Raw().header(2, 0).tensor("t", {16}, 0, 0).tensor("u", {8}, 0, 32).pad().zeros(96).b, "overlap");
  expect_parse_error(Raw().header(2, 0).tensor("t", {8}, 0, 0).tensor("t", {8}, 0, 32).pad().zeros(64).b, "appears twice");
}

// A metadata value of the wrong type is an error naming the key, never reinterpreted: an array of u8 where
// an f32 array is expected, a string or an array where an integer is, an integer where a float is.
TEST(Gguf, WrongValueTypesAreErrorsNamingTheKey) {
  GgufWriter w;
  w.set("tokenizer.ggml.scores", GgufValue::int_array(GgufType::U8, {1, 2, 3}));
  w.set("good.scores", GgufValue::float_array(GgufType::F32, {0.5, 1.5}));
  w.set_string("gemma4.block_count", "35");
  w.set("gemma4.context_length", GgufValue::int_array(GgufType::U32, {4096}));
  w.set_u32("gemma4.rope.freq_base", 10000);
  w.set_f32("gemma4.attention.layer_norm_rms_epsilon", 1e-6f);
  const std::vector<uint8_t> img = w.serialize();
  auto f = GgufFile::parse(img.data(), img.size(), "typed.gguf");
  auto expect_error = [](const auto& call, const std::string& key, const std::string& fragment) {
    try {
      call();
      ADD_FAILURE() << key << ": no error";
    } catch (const Error& e) {
      const std::string msg = e.what();
      EXPECT_NE(msg.find("'" + key + "'"), std::string::npos) << msg;
      EXPECT_NE(msg.find(fragment), std::string::npos) << msg;
    }
  };
  expect_error([&] { f->get_array_floats("tokenizer.ggml.scores"); }, "tokenizer.ggml.scores", "array of u8");
  expect_error([&] { f->get_u32("gemma4.block_count"); }, "gemma4.block_count", "expected an integer");
  expect_error([&] { f->get_i64("gemma4.block_count", 3); }, "gemma4.block_count", "expected an integer");
  expect_error([&] { f->get_u32("gemma4.context_length"); }, "gemma4.context_length", "expected an integer");
  expect_error([&] { f->get_f32("gemma4.rope.freq_base"); }, "gemma4.rope.freq_base", "expected a float");
  expect_error([&] { f->get_f32("gemma4.rope.freq_base", 1.0f); }, "gemma4.rope.freq_base", "expected a float");
  expect_error([&] { f->get_string("gemma4.attention.layer_norm_rms_epsilon"); },
               "gemma4.attention.layer_norm_rms_epsilon", "expected a string");
  // The right types still read.
  EXPECT_EQ(f->get_array_floats("good.scores"), (std::vector<float>{0.5f, 1.5f}));
  EXPECT_FLOAT_EQ(f->get_f32("gemma4.attention.layer_norm_rms_epsilon"), 1e-6f);
}

// The tensor-type table lives in core (below formats and quant): every published type is known with
// ggml's block layout, and a type the engine cannot compute with is named in the error.
TEST(Gguf, TensorTypeTableCoversPublishedTypes) {
  const std::pair<const char*, std::array<int, 3>> expected[] = {
      {"Q4_1", {3, 32, 20}},      {"Q5_0", {6, 32, 22}},     {"Q5_1", {7, 32, 24}},    {"Q2_K", {10, 256, 84}},
      {"Q3_K", {11, 256, 110}},   {"IQ2_XXS", {16, 256, 66}}, {"IQ2_XS", {17, 256, 74}}, {"IQ3_XXS", {18, 256, 98}},
      {"IQ1_S", {19, 256, 50}},   {"IQ4_NL", {20, 32, 18}},  {"IQ3_S", {21, 256, 110}}, {"IQ2_S", {22, 256, 82}},
      {"IQ4_XS", {23, 256, 136}}, {"IQ1_M", {29, 256, 56}},  {"MXFP4", {39, 32, 17}}};
  for (const auto& [name, v] : expected) {
    const GgmlTypeInfo* info = ggml_type_info(uint32_t(v[0]));
    ASSERT_NE(info, nullptr) << name;
    EXPECT_STREQ(info->name, name);
    EXPECT_EQ(info->block_elems, v[1]) << name;
    EXPECT_EQ(info->block_bytes, v[2]) << name;
    EXPECT_TRUE(info->computable) << name;
  }
  // TQ1_0 is a ggml type the engine does not compute with: the file parses, the tensor is refused by name.
  auto img = Raw().header(1, 0).tensor("blk.0.ffn_up.weight", {256}, 34, 0).pad().zeros(64).b;
  auto f = GgufFile::parse(img.data(), img.size(), "tq.gguf");
  ASSERT_FALSE(f->tensors()[0].supported);
  try {
    f->require_supported(f->tensors()[0]);
    ADD_FAILURE() << "TQ1_0 accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("TQ1_0"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("blk.0.ffn_up.weight"), std::string::npos) << e.what();
  }
}
