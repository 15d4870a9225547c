// HF folder -> GGUF, GGUF -> GGUF, random weights -> GGUF, all streamed through GgufStreamWriter.
#include "convert/convert.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <deque>
#include <functional>
#include <map>
#include <random>

#include "core/dtype.h"
#include "core/error.h"
#include "core/json.h"
#include "core/mapped_file.h"
#include "core/thread_pool.h"
#include "formats/gguf.h"
#include "formats/gguf_writer.h"
#include "convert/drafter_gguf_writer.h"
#include "model/drafter.h"
#include "model/gguf_config.h"
#include "convert/gguf_stream.h"
#include "model/weight_source.h"
#include "model/weights.h"

namespace g4 {

namespace {

bool is_quantized(WType t) { return wtype_info(t).block_elems > 1; }

bool ends_with(const std::string& s, const std::string& suf) {
  return s.size() >= suf.size() && s.compare(s.size() - suf.size(), suf.size(), suf) == 0;
}

std::string shape_str(const std::vector<int64_t>& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "]";
}

// ---------------------------------------------------------------------------------------------
// Progress bar on stderr: "[#########...........]  45%  1.21 / 2.69 GB  blk.3.ffn_up.weight"
class Progress {
 public:
  Progress(bool on, size_t total, std::string what) : on_(on), total_(total), what_(std::move(what)) {
    start_ = last_ = std::chrono::steady_clock::now();
  }
  void update(size_t done, const std::string& tensor, bool force = false) {
    if (!on_) return;
    auto now = std::chrono::steady_clock::now();
    if (!force && std::chrono::duration<double>(now - last_).count() < 0.2) return;
    last_ = now;
    const double frac = total_ ? double(done) / double(total_) : 1.0;
    const int width = 30, fill = int(frac * width + 0.5);
    std::string bar(size_t(fill), '#');
    bar.resize(size_t(width), '.');
    const double secs = std::chrono::duration<double>(now - start_).count();
    std::fprintf(stderr, "\r%s [%s] %3d%%  %.2f / %.2f GB  %5.1f s  %-40.40s", what_.c_str(), bar.c_str(), int(frac * 100),
                 double(done) / 1e9, double(total_) / 1e9, secs, tensor.c_str());
    std::fflush(stderr);
    shown_ = true;
  }
  void finish(size_t done) {
    if (!on_) return;
    update(done, "done", true);
    std::fprintf(stderr, "\n");
  }

 private:
  bool on_;
  size_t total_;
  std::string what_;
  bool shown_ = false;
  std::chrono::steady_clock::time_point start_, last_;
};

// ---------------------------------------------------------------------------------------------
// Encoding f32 rows into a stored type.
void encode_row(uint32_t type, const float* x, int64_t n, uint8_t* out) {
  switch (type) {
    case 0: std::memcpy(out, x, size_t(n) * 4); return;
    case 1:
      for (int64_t i = 0; i < n; ++i) {
        uint16_t h = f32_to_f16(x[i]);
        std::memcpy(out + 2 * i, &h, 2);
      }
      return;
    case 30:
      for (int64_t i = 0; i < n; ++i) {
        uint16_t h = f32_to_bf16(x[i]);
        std::memcpy(out + 2 * i, &h, 2);
      }
      return;
    default: quantize_row(WType(type), x, out, n); return;
  }
}

// Any ggml type, integer tensors (a drafter's token ordering) included.
size_t row_bytes(uint32_t type, int64_t cols) { return GgufWriter::tensor_nbytes(type, {cols}); }

// One tensor to write: either f32 rows (encoded here) or ready-made bytes.
struct OutTensor {
  std::string name;
  std::vector<int64_t> ne;  // GGUF order
  uint32_t type = 0;
  // Fills rows [r0, r0+n) as f32 (n * ne[0] values). Used when `bytes` is not set.
  std::function<void(int64_t r0, int64_t n, float* out)> rows_f32;
  // Fills rows [r0, r0+n) already encoded in `type`.
  std::function<void(int64_t r0, int64_t n, uint8_t* out)> rows_bytes;
};

// llama.cpp's rope_freqs.weight (F32, gguf_rope_freqs: proportional RoPE on the full layers), written after
// the first tensor, where convert and synth have always put it.
OutTensor rope_freqs_tensor(const std::vector<float>& rope) {
  OutTensor r;
  r.name = "rope_freqs.weight";
  r.ne = {int64_t(rope.size())};
  r.type = 0;
  r.rows_f32 = [rope](int64_t, int64_t, float* y) { std::memcpy(y, rope.data(), rope.size() * 4); };
  return r;
}

void write_all(const GgufWriter& meta, std::vector<OutTensor>& tensors, const std::string& path, bool progress,
               const std::string& what, WriteReport& report) {
  GgufStreamWriter w(meta);
  for (const OutTensor& t : tensors) w.add_tensor_info(t.name, t.type, t.ne);
  w.open(path);
  Progress bar(progress, w.total_bytes(), what);
  size_t done = 0;
  ThreadPool& pool = ThreadPool::global();
  std::vector<float> f32;
  std::vector<uint8_t> bytes;
  for (OutTensor& t : tensors) {
    const int64_t cols = t.ne.empty() ? 1 : t.ne[0];
    int64_t rows = 1;
    for (size_t i = 1; i < t.ne.size(); ++i) rows *= t.ne[i];
    const size_t rb = row_bytes(t.type, cols);
    // About 8 MiB of f32 per chunk.
    const int64_t chunk = std::max<int64_t>(1, int64_t((size_t(8) << 20) / (size_t(cols) * 4)));
    for (int64_t r0 = 0; r0 < rows; r0 += chunk) {
      const int64_t n = std::min(chunk, rows - r0);
      bytes.resize(size_t(n) * rb);
      if (t.rows_bytes) {
        t.rows_bytes(r0, n, bytes.data());
      } else {
        f32.resize(size_t(n * cols));
        t.rows_f32(r0, n, f32.data());
        pool.parallel_for(size_t(n), [&](size_t a, size_t b) {
          for (size_t r = a; r < b; ++r) encode_row(t.type, f32.data() + r * size_t(cols), cols, bytes.data() + r * rb);
        });
      }
      w.write(bytes.data(), bytes.size());
      done += bytes.size();
      bar.update(done, t.name);
    }
    ++report.n_tensors;
  }
  w.finish();
  report.bytes = done;
  bar.finish(done);
}

// ---------------------------------------------------------------------------------------------
// A WeightSource that records what the binder asks for.
class RecordingSource : public WeightSource {
 public:
  const SourceTensor* find(const std::string& name) const override {
    auto it = index_.find(name);
    return it == index_.end() ? nullptr : &tensors_[it->second];
  }
  const SourceTensor* find_shaped(const std::string& name, const std::vector<int64_t>& shape) const override {
    if (const SourceTensor* t = find(name)) return t;
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    SourceTensor t;
    t.name = name;
    t.type = WType::F32;
    t.shape = shape;
    t.nbytes = size_t(n) * 4;
    t.file = "plan";
    if (shape.size() <= 1) {
      auto& buf = storage_.emplace_back(size_t(n), 1.0f);
      t.data = reinterpret_cast<const uint8_t*>(buf.data());
    } else {
      t.data = reinterpret_cast<const uint8_t*>(&kDummy);  // matrices are bound, never read
    }
    index_[name] = tensors_.size();
    tensors_.push_back(std::move(t));
    return &tensors_.back();
  }
  std::string describe() const override { return "tensor plan"; }
  const std::deque<SourceTensor>& tensors() const { return tensors_; }

 private:
  static constexpr float kDummy = 0.0f;
  mutable std::deque<SourceTensor> tensors_;
  mutable std::map<std::string, size_t> index_;
  mutable std::deque<std::vector<float>> storage_;
};

std::vector<int64_t> ggml_ne(const std::vector<int64_t>& torch_shape) {
  return std::vector<int64_t>(torch_shape.rbegin(), torch_shape.rend());
}

uint32_t fallback_type(WType target, int64_t ne0) {
  const int blk = wtype_info(target).block_elems;
  if (ne0 % blk == 0) return uint32_t(target);
  uint32_t t = uint32_t(target);
  if (target == WType::Q4_K || target == WType::Q5_K || target == WType::Q6_K) t = uint32_t(WType::Q8_0);
  // llama-quantize's fallback for the low-bit super-block types: IQ4_NL (32-value blocks).
  if (target == WType::Q2_K || target == WType::Q3_K || target == WType::IQ4_XS || target == WType::IQ3_XXS ||
      target == WType::IQ3_S || target == WType::IQ2_S || target == WType::IQ1_M)
    t = uint32_t(WType::IQ4_NL);
  if (ne0 % wtype_info(WType(t)).block_elems != 0) t = uint32_t(WType::F16);
  return t;
}

void note_fallback(WriteReport& r, const std::string& name, WType target, uint32_t got, int64_t ne0) {
  if (got == uint32_t(target) || !is_quantized(target)) return;
  if (got == uint32_t(WType::F32) || got == uint32_t(WType::BF16)) return;  // policy, not a fallback
  r.fallbacks.push_back(name + ": " + wtype_info(target).name + " -> " + wtype_info(WType(got)).name + " (ne0 " +
                        std::to_string(ne0) + ")");
}

// llama.cpp's KV-sharing rule (llama-model.cpp, layer_reuse_cb): a shared layer reads layer
// n_kv_from_start - 2 (sliding) or - 1 (full). Notes when that differs from the model's real sources.
void check_llamacpp_kv_sharing(const ModelConfig& c, WriteReport& r) {
  if (c.n_kv_shared_layers == 0) return;
  const int first = c.n_layers - c.n_kv_shared_layers;
  for (int i = first; i < c.n_layers; ++i) {
    const LayerPlan& p = c.layers[size_t(i)];
    const int llama_src = first - (p.type == LayerType::Sliding ? 2 : 1);
    if (llama_src != p.kv_source) {
      r.notes.push_back("llama.cpp will attend KV-shared layer " + std::to_string(i) + " to layer " + std::to_string(llama_src) +
                        " (it assumes the last two non-shared layers are sliding, full); the model reads layer " +
                        std::to_string(p.kv_source) + ": llama.cpp's outputs will differ for this layer pattern");
      return;
    }
  }
}

void check_llamacpp_gemma3_scale(const ModelConfig& c, WriteReport& r) {
  if (c.family != Family::Gemma3) return;
  const float rule = c.n_layers == 62 ? float(1.0 / std::sqrt(double(c.hidden_size / c.n_heads)))
                                      : float(1.0 / std::sqrt(double(c.layers[0].head_dim)));
  if (std::fabs(rule - c.attention_scale) > 1e-6f * rule)
    r.notes.push_back("llama.cpp derives Gemma 3's attention scale from the layer count (" + std::to_string(rule) +
                      "); this model uses " + std::to_string(c.attention_scale) + ", which a GGUF cannot express");
}

std::string model_name_of(const std::string& path) {
  std::string s = path;
  while (!s.empty() && s.back() == '/') s.pop_back();
  size_t k = s.find_last_of('/');
  return k == std::string::npos ? s : s.substr(k + 1);
}

std::string resolve_vocab(const std::string& v) {
  std::string p = v.empty() ? default_vocab_path() : v;
  if (p.empty())
    throw Error("no tokenizer GGUF found: pass --vocab PATH (a GGUF with tokenizer.* metadata, e.g. ../shared/fixtures/tokenizer/gemma4-vocab.gguf)");
  return p;
}

}  // namespace

std::string default_vocab_path() {
  std::vector<std::string> candidates;
  if (const char* e = std::getenv("G4_SHARED_DIR")) candidates.push_back(std::string(e) + "/fixtures/tokenizer/gemma4-vocab.gguf");
  char buf[4096];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n > 0) {
    std::string exe(buf, size_t(n));
    std::string dir = exe.substr(0, exe.find_last_of('/'));
    for (const char* up : {"/../../shared", "/../shared", "/../../../shared"})
      candidates.push_back(dir + up + "/fixtures/tokenizer/gemma4-vocab.gguf");
  }
  candidates.push_back("../shared/fixtures/tokenizer/gemma4-vocab.gguf");
  for (const std::string& c : candidates)
    if (file_exists(c)) return c;
  return "";
}

WType parse_wtype(const std::string& s0) {
  std::string s;
  for (char ch : s0) s += char(std::tolower(static_cast<unsigned char>(ch)));
  if (s == "f32") return WType::F32;
  if (s == "f16") return WType::F16;
  if (s == "bf16") return WType::BF16;
  if (s == "q8_0") return WType::Q8_0;
  if (s == "q4_0") return WType::Q4_0;
  if (s == "q4_k_m" || s == "q5_k_m" || s == "q3_k_m")  // a mix, not one type: never quietly one type
    throw Error("'" + s0 + "' is llama-quantize's mix of several types: write an f32 or bf16 file, then "
                "`gemma4 quantize --type " + s + "`");
  if (s == "q4_k" || s == "q4_k_s") return WType::Q4_K;
  if (s == "q5_k" || s == "q5_k_s") return WType::Q5_K;
  if (s == "q6_k") return WType::Q6_K;
  if (s == "q4_1") return WType::Q4_1;
  if (s == "q5_0") return WType::Q5_0;
  if (s == "q5_1") return WType::Q5_1;
  if (s == "q2_k") return WType::Q2_K;
  if (s == "q3_k" || s == "q3_k_s") return WType::Q3_K;
  if (s == "iq4_nl") return WType::IQ4_NL;
  if (s == "iq4_xs") return WType::IQ4_XS;
  if (s == "iq3_xxs") return WType::IQ3_XXS;
  if (s == "iq3_s") return WType::IQ3_S;
  if (s == "iq2_s") return WType::IQ2_S;
  if (s == "iq1_m") return WType::IQ1_M;
  if (s == "iq2_xxs" || s == "iq2_xs" || s == "iq1_s")
    throw Error("'" + s0 + "' needs an importance matrix (llama-quantize refuses it without one), which is not "
                "supported");
  if (s == "mxfp4") return WType::MXFP4;
  throw Error("unknown tensor type '" + s0 + "' (supported: f32, f16, bf16, q8_0, q4_0, q4_1, q5_0, q5_1, q2_k, q3_k, "
              "q4_k, q5_k, q6_k, iq4_nl, iq4_xs, iq3_xxs, iq3_s, iq2_s, iq1_m, mxfp4)");
}

std::string wtype_lower_name(WType t) {
  std::string s = wtype_info(t).name;
  for (char& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::vector<PlannedTensor> plan_tensors(const ModelConfig& config) {
  RecordingSource rec;
  bind_weights(config, rec);
  std::vector<PlannedTensor> out;
  for (const SourceTensor& t : rec.tensors()) out.push_back({t.name, t.shape});
  return out;
}

uint32_t gguf_tensor_type(const std::string& name, const std::vector<int64_t>& ne, WType target) {
  if (ne.size() <= 1 || name.find("_norm.weight") != std::string::npos || !ends_with(name, "weight")) return 0;
  if (name.find("ffn_gate_inp.weight") != std::string::npos) return 0;
  if (name.find("per_layer_model_proj") != std::string::npos && is_quantized(target)) return uint32_t(WType::BF16);
  return fallback_type(target, ne[0]);
}

// ---------------------------------------------------------------------------------------------
WriteReport convert_hf_to_gguf(const ConvertOptions& o) {
  // An MTP drafter (gemma4_assistant) has its own architecture and writer (convert/drafter_gguf_writer.cpp).
  if (is_hf_drafter(o.model_dir))
    return write_drafter_gguf(*load_drafter(o.model_dir), o.out, o.type, model_name_of(o.model_dir), resolve_vocab(o.vocab));
  WriteReport report;
  const std::string cfg_path = o.model_dir + "/config.json";
  if (!file_exists(cfg_path)) throw Error("no config.json in '" + o.model_dir + "': expected a Hugging Face model folder");
  ModelConfig c = config_from_hf_json(parse_json(read_text_file(cfg_path), cfg_path), cfg_path);
  std::shared_ptr<WeightSource> src = open_hf_weights(o.model_dir);
  auto vocab = GgufFile::open(resolve_vocab(o.vocab));

  GgufWriter meta;
  write_gguf_arch_metadata(c, meta, model_name_of(o.model_dir), llama_ftype_for(uint32_t(o.type)));
  std::string note = copy_tokenizer_metadata(*vocab, meta, c.vocab_size);
  if (!note.empty()) report.notes.push_back(note);
  check_llamacpp_kv_sharing(c, report);
  check_llamacpp_gemma3_scale(c, report);

  std::vector<OutTensor> out;
  std::vector<float> rope = gguf_rope_freqs(c);
  const bool gemma3 = c.family == Family::Gemma3;
  for (const PlannedTensor& p : plan_tensors(c)) {
    const SourceTensor* st = src->find(p.hf_name);
    if (!st) throw Error("missing tensor '" + p.hf_name + "' in " + src->describe());
    if (st->shape != p.shape)
      throw Error("tensor '" + st->name + "' has shape " + shape_str(st->shape) + ", expected " + shape_str(p.shape));
    OutTensor t;
    t.name = gguf_name_for_hf(p.hf_name);
    if (t.name.empty()) throw Error("internal error: no GGUF name for '" + p.hf_name + "'");
    t.ne = ggml_ne(p.shape);
    t.type = gguf_tensor_type(t.name, t.ne, o.type);
    note_fallback(report, t.name, o.type, t.type, t.ne[0]);
    Weight w;
    w.data = st->data;
    w.type = st->type;
    w.cols = p.shape.back();
    w.rows = 1;
    for (size_t i = 0; i + 1 < p.shape.size(); ++i) w.rows *= p.shape[i];
    // Gemma 3: llama.cpp stores RMSNorm weights as 1 + w (computed here in f32).
    const float shift = gemma3 && ends_with(p.hf_name, "norm.weight") ? 1.0f : 0.0f;
    t.rows_f32 = [w, shift](int64_t r0, int64_t n, float* y) {
      for (int64_t r = 0; r < n; ++r) {
        dequantize_row(w, r0 + r, y + r * w.cols);
        if (shift != 0.0f)
          for (int64_t k = 0; k < w.cols; ++k) y[r * w.cols + k] += shift;
      }
    };
    out.push_back(std::move(t));
    if (out.size() == 1 && !rope.empty()) out.push_back(rope_freqs_tensor(rope));
  }
  write_all(meta, out, o.out, o.progress, "convert", report);
  return report;
}

// ---------------------------------------------------------------------------------------------
WriteReport quantize_gguf(const std::string& in, const std::string& out_path, WType type, bool progress) {
  WriteReport fallbacks;  // the notes of the rule below
  WriteReport report = quantize_gguf(in, out_path, llama_ftype_for(uint32_t(type)),
                                     [&](const GgufTensor& gt) {
                                       const uint32_t t = fallback_type(type, gt.ne[0]);
                                       note_fallback(fallbacks, gt.name, type, t, gt.ne[0]);
                                       return TensorTypeChoice{t, ""};
                                     },
                                     progress);
  report.fallbacks = std::move(fallbacks.fallbacks);
  return report;
}

bool llamacpp_quantizes(const std::string& name, const std::vector<int64_t>& ne) {
  // llama-quantize's tensor_allows_quantization (as it applies to Gemma files).
  return ne.size() >= 2 && ends_with(name, "weight") && name.find("_norm.weight") == std::string::npos &&
         name.find("ffn_gate_inp.weight") == std::string::npos && name.find("per_layer_model_proj") == std::string::npos &&
         name.find("altup") == std::string::npos && name.find("laurel") == std::string::npos;
}

WriteReport quantize_gguf(const std::string& in, const std::string& out_path, uint32_t file_type,
                          const TensorTypeRule& rule, bool progress) {
  WriteReport report;
  auto f = GgufFile::open(in);
  GgufWriter meta;
  meta.copy_metadata(*f);
  meta.set_u32("general.file_type", file_type);
  meta.set_u32("general.quantization_version", 2);
  std::vector<OutTensor> out;
  for (const GgufTensor& gt : f->tensors()) {
    OutTensor t;
    t.name = gt.name;
    t.ne = gt.ne;
    t.type = gt.ggml_type;
    if (llamacpp_quantizes(gt.name, gt.ne)) {
      const TensorTypeChoice c = rule(gt);
      t.type = c.type;
      if (!c.rule.empty()) report.rules.push_back(gt.name + ": " + ggml_type_name(c.type) + " (" + c.rule + ")");
    }
    const int64_t cols = gt.ne.empty() ? 1 : gt.ne[0];
    if (t.type == gt.ggml_type) {
      const size_t rb = GgufWriter::tensor_nbytes(gt.ggml_type, {cols});
      const uint8_t* data = gt.data;
      t.rows_bytes = [data, rb](int64_t r0, int64_t n, uint8_t* y) { std::memcpy(y, data + size_t(r0) * rb, size_t(n) * rb); };
    } else {
      f->require_supported(gt);
      Weight w;
      w.data = gt.data;
      w.type = WType(gt.ggml_type);
      w.cols = cols;
      w.rows = gt.numel() / cols;
      t.rows_f32 = [w](int64_t r0, int64_t n, float* y) {
        for (int64_t r = 0; r < n; ++r) dequantize_row(w, r0 + r, y + r * w.cols);
      };
    }
    out.push_back(std::move(t));
  }
  write_all(meta, out, out_path, progress, "quantize", report);
  return report;
}

// ---------------------------------------------------------------------------------------------
ModelConfig synth_config(const std::string& arch) {
  Json j;
  j["model_type"] = "gemma4_text";
  j["vocab_size"] = 262144;
  j["vocab_size_per_layer_input"] = 262144;
  j["head_dim"] = 256;
  j["global_head_dim"] = 512;
  j["rms_norm_eps"] = 1e-6;
  j["final_logit_softcapping"] = 30.0;
  j["attention_k_eq_v"] = false;
  j["hidden_size_per_layer_input"] = 0;
  j["num_kv_shared_layers"] = 0;
  int L = 0, period = 6;
  if (arch == "e2b") {
    L = 35, period = 5;
    j["hidden_size"] = 1536, j["intermediate_size"] = 6144, j["num_attention_heads"] = 8, j["num_key_value_heads"] = 1;
    j["sliding_window"] = 512, j["hidden_size_per_layer_input"] = 256, j["num_kv_shared_layers"] = 20;
    j["use_double_wide_mlp"] = true, j["max_position_embeddings"] = 131072;
  } else if (arch == "e4b") {
    L = 42;
    j["hidden_size"] = 2560, j["intermediate_size"] = 10240, j["num_attention_heads"] = 8, j["num_key_value_heads"] = 2;
    j["sliding_window"] = 512, j["hidden_size_per_layer_input"] = 256, j["num_kv_shared_layers"] = 18;
    j["max_position_embeddings"] = 131072;
  } else if (arch == "26b-a4b") {
    L = 30;
    j["hidden_size"] = 2816, j["intermediate_size"] = 2112, j["num_attention_heads"] = 16, j["num_key_value_heads"] = 8;
    j["num_global_key_value_heads"] = 2, j["attention_k_eq_v"] = true, j["sliding_window"] = 1024;
    j["enable_moe_block"] = true, j["num_experts"] = 128, j["top_k_experts"] = 8, j["moe_intermediate_size"] = 704;
    j["max_position_embeddings"] = 262144;
  } else if (arch == "31b") {
    L = 60;
    j["hidden_size"] = 5376, j["intermediate_size"] = 21504, j["num_attention_heads"] = 32, j["num_key_value_heads"] = 16;
    j["num_global_key_value_heads"] = 4, j["attention_k_eq_v"] = true, j["sliding_window"] = 1024;
    j["max_position_embeddings"] = 262144;
  } else {
    throw Error("unknown --arch '" + arch + "' (supported: e2b, e4b, 26b-a4b, 31b)");
  }
  j["num_hidden_layers"] = L;
  Json types = Json::array();
  for (int i = 0; i < L; ++i) types.push_back((i + 1) % period == 0 ? "full_attention" : "sliding_attention");
  j["layer_types"] = types;
  return config_from_hf_json(j, "built-in " + arch + " configuration");
}

WriteReport synth_gguf(const SynthOptions& o) {
  WriteReport report;
  ModelConfig c;
  std::string name;
  if (!o.config_json.empty()) {
    c = config_from_hf_json(parse_json(read_text_file(o.config_json), o.config_json), o.config_json);
    name = "random " + o.config_json;
  } else {
    c = synth_config(o.arch);
    name = "gemma-4-" + o.arch + "-random";
  }
  auto vocab = GgufFile::open(resolve_vocab(o.vocab));
  GgufWriter meta;
  write_gguf_arch_metadata(c, meta, name, llama_ftype_for(uint32_t(o.type)));
  std::string note = copy_tokenizer_metadata(*vocab, meta, c.vocab_size);
  if (!note.empty()) report.notes.push_back(note);

  // Pools of valid random rows per (type, width), tiled into every matrix from a per-tensor offset.
  struct Pool {
    std::vector<uint8_t> bytes;
    int64_t rows = 0;
    size_t rb = 0;
  };
  auto pools = std::make_shared<std::map<std::pair<uint32_t, int64_t>, Pool>>();
  auto get_pool = [pools, seed = o.seed](uint32_t type, int64_t cols) -> const Pool& {
    auto key = std::make_pair(type, cols);
    auto it = pools->find(key);
    if (it != pools->end()) return it->second;
    Pool p;
    p.rb = row_bytes(type, cols);
    p.rows = std::clamp<int64_t>(int64_t((size_t(4) << 20) / p.rb), 16, 4096);
    p.bytes.resize(size_t(p.rows) * p.rb);
    std::mt19937_64 rng(seed * 1000003u + uint64_t(cols) * 31u + type);
    std::normal_distribution<float> normal(0.0f, float(1.0 / std::sqrt(double(cols))));
    std::vector<float> x(static_cast<size_t>(cols));
    for (int64_t r = 0; r < p.rows; ++r) {
      for (float& v : x) v = normal(rng);
      encode_row(type, x.data(), cols, p.bytes.data() + size_t(r) * p.rb);
    }
    return pools->emplace(key, std::move(p)).first->second;
  };

  std::vector<OutTensor> out;
  std::vector<float> rope = gguf_rope_freqs(c);
  for (const PlannedTensor& p : plan_tensors(c)) {
    OutTensor t;
    t.name = gguf_name_for_hf(p.hf_name);
    t.ne = ggml_ne(p.shape);
    t.type = gguf_tensor_type(t.name, t.ne, o.type);
    note_fallback(report, t.name, o.type, t.type, t.ne[0]);
    if (t.ne.size() <= 1) {
      const int64_t n = t.ne.empty() ? 1 : t.ne[0];
      t.rows_f32 = [n](int64_t, int64_t rows, float* y) { std::fill(y, y + rows * n, 1.0f); };
    } else {
      const uint32_t type = t.type;
      const int64_t cols = t.ne[0];
      const uint64_t start = std::hash<std::string>{}(t.name) ^ o.seed;
      t.rows_bytes = [get_pool, type, cols, start](int64_t r0, int64_t n, uint8_t* y) {
        const Pool& pool = get_pool(type, cols);
        for (int64_t r = 0; r < n; ++r) {
          const int64_t pr = int64_t((start + uint64_t(r0 + r)) % uint64_t(pool.rows));
          std::memcpy(y + size_t(r) * pool.rb, pool.bytes.data() + size_t(pr) * pool.rb, pool.rb);
        }
      };
    }
    out.push_back(std::move(t));
    if (out.size() == 1 && !rope.empty()) out.push_back(rope_freqs_tensor(rope));
  }
  write_all(meta, out, o.out, o.progress, "synth", report);
  return report;
}

}  // namespace g4
