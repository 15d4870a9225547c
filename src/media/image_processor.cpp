// Gemma4ImageProcessor (transformers 5.17, torchvision backend): aspect-preserving resize to the soft-token
// budget, rescale (and optional normalise), 16x16 patches with (x, y) position ids, padding to max_patches.
//
// The resize is torchvision's resize(antialias=True) of a uint8 CHW tensor on CPU, which runs ATen's uint8
// kernel: per axis, PIL-style antialiased filter weights computed in double, normalised, then rounded to int16
// fixed point at the largest precision the axis's biggest weight allows; the width pass runs first and is
// rounded to uint8 before the height pass. Both the AVX2 and the generic ATen kernels do this same integer
// arithmetic, so reproducing it gives the reference's pixels bit for bit (pixel_values are multiples of 1/255).
#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "media/media.h"

namespace g4::media {

namespace {

// PIL's / ATen's antialiasing filters: Keys cubic with a = -0.5 (bicubic), triangle (bilinear).
double cubic_filter(double x) {
  constexpr double a = -0.5;
  x = std::fabs(x);
  if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0;
  if (x < 2.0) return ((a * x - 5.0 * a) * x + 8.0 * a) * x - 4.0 * a;
  return 0.0;
}
double linear_filter(double x) {
  x = std::fabs(x);
  return x < 1.0 ? 1.0 - x : 0.0;
}

struct AxisWeights {
  std::vector<int64_t> xmin, xsize;
  std::vector<int32_t> w;  // [out][ksize] int16 values
  int ksize = 0;
  int precision = 0;
};

// HelperInterpBase::_compute_index_ranges_weights (antialias) + _compute_index_ranges_int16_weights.
AxisWeights axis_weights(int in, int out, bool cubic) {
  const double scale = double(in) / double(out);
  const int interp = cubic ? 4 : 2;
  const double support = scale >= 1.0 ? (interp * 0.5) * scale : interp * 0.5;
  const double invscale = scale >= 1.0 ? 1.0 / scale : 1.0;
  AxisWeights a;
  a.ksize = int(std::ceil(support)) * 2 + 1;
  a.xmin.resize(size_t(out));
  a.xsize.resize(size_t(out));
  std::vector<double> wf(size_t(out) * size_t(a.ksize), 0.0);
  double wt_max = 0.0;
  for (int i = 0; i < out; ++i) {
    const double center = scale * (i + 0.5);
    int64_t xmin = std::max(int64_t(center - support + 0.5), int64_t(0));
    int64_t xsize = std::min(int64_t(center + support + 0.5), int64_t(in)) - xmin;
    xsize = std::clamp(xsize, int64_t(0), int64_t(a.ksize));
    double* w = &wf[size_t(i) * size_t(a.ksize)];
    double total = 0.0;
    for (int64_t j = 0; j < xsize; ++j) {
      double v = (cubic ? cubic_filter : linear_filter)((double(j + xmin) - center + 0.5) * invscale);
      w[j] = v;
      total += v;
    }
    if (total != 0.0) {
      for (int64_t j = 0; j < xsize; ++j) {
        w[j] /= total;
        wt_max = std::max(wt_max, w[j]);
      }
    }
    a.xmin[size_t(i)] = xmin;
    a.xsize[size_t(i)] = xsize;
  }
  int p = 0;
  for (; p < 22; ++p) {
    int next = int(0.5 + wt_max * double(1 << (p + 1)));
    if (next >= (1 << 15)) break;
  }
  a.precision = p;
  a.w.resize(wf.size());
  for (size_t k = 0; k < wf.size(); ++k) {
    double v = wf[k] * double(1 << p);
    a.w[k] = v < 0 ? int(-0.5 + v) : int(0.5 + v);
  }
  return a;
}

// Width pass over an interleaved RGB image: each output pixel is an int16-weighted sum of a run of input pixels.
std::vector<uint8_t> resample_horizontal(const std::vector<uint8_t>& src, int w, int h, int out_w, bool cubic) {
  const AxisWeights a = axis_weights(w, out_w, cubic);
  std::vector<uint8_t> dst(size_t(out_w) * size_t(h) * 3);
  const int32_t round = 1 << (a.precision - 1);
  for (int y = 0; y < h; ++y) {
    const uint8_t* row = &src[size_t(y) * size_t(w) * 3];
    uint8_t* d = &dst[size_t(y) * size_t(out_w) * 3];
    for (int x = 0; x < out_w; ++x, d += 3) {
      const int32_t* k = &a.w[size_t(x) * size_t(a.ksize)];
      const uint8_t* p = row + a.xmin[size_t(x)] * 3;
      int32_t r = round, g = round, b = round;
      for (int64_t j = 0; j < a.xsize[size_t(x)]; ++j, p += 3) r += p[0] * k[j], g += p[1] * k[j], b += p[2] * k[j];
      d[0] = uint8_t(std::clamp(r >> a.precision, 0, 255));
      d[1] = uint8_t(std::clamp(g >> a.precision, 0, 255));
      d[2] = uint8_t(std::clamp(b >> a.precision, 0, 255));
    }
  }
  return dst;
}

// Height pass: each output row is an int16-weighted sum of a run of input rows, accumulated row by row
// (contiguous, vectorisable); the same integer sums as the per-pixel form.
std::vector<uint8_t> resample_vertical(const std::vector<uint8_t>& src, int w, int h, int out_h, bool cubic) {
  const AxisWeights a = axis_weights(h, out_h, cubic);
  const size_t n = size_t(w) * 3;
  std::vector<uint8_t> dst(n * size_t(out_h));
  std::vector<int32_t> acc(n);
  const int32_t round = 1 << (a.precision - 1);
  for (int y = 0; y < out_h; ++y) {
    std::fill(acc.begin(), acc.end(), round);
    const int32_t* k = &a.w[size_t(y) * size_t(a.ksize)];
    for (int64_t j = 0; j < a.xsize[size_t(y)]; ++j) {
      const uint8_t* row = &src[size_t(a.xmin[size_t(y)] + j) * n];
      const int32_t kj = k[j];
      for (size_t i = 0; i < n; ++i) acc[i] += int32_t(row[i]) * kj;
    }
    uint8_t* d = &dst[size_t(y) * n];
    for (size_t i = 0; i < n; ++i) d[i] = uint8_t(std::clamp(acc[i] >> a.precision, 0, 255));
  }
  return dst;
}

}  // namespace

Image resize_image(const Image& image, int out_width, int out_height, int resample) {
  check(resample == 2 || resample == 3, "image resize: resample " + std::to_string(resample) +
                                            " is not supported (2 = bilinear, 3 = bicubic)");
  check(out_width > 0 && out_height > 0, "image resize: empty target size");
  const bool cubic = resample == 3;
  Image out;
  out.width = image.width;
  out.height = image.height;
  out.rgb = image.rgb;
  if (out_width != image.width) {
    out.rgb = resample_horizontal(out.rgb, out.width, out.height, out_width, cubic);
    out.width = out_width;
  }
  if (out_height != image.height) {
    out.rgb = resample_vertical(out.rgb, out.width, out.height, out_height, cubic);
    out.height = out_height;
  }
  return out;
}

bool is_supported_soft_token_budget(int n) {
  return n == 70 || n == 140 || n == 280 || n == 560 || n == 1120;
}

std::pair<int, int> aspect_preserving_size(int height, int width, const ImageProcessorConfig& cfg,
                                           int max_soft_tokens) {
  const int64_t max_patches = int64_t(max_soft_tokens) * cfg.pooling_kernel_size * cfg.pooling_kernel_size;
  const double total_px = double(height) * double(width);
  const double target_px = double(max_patches) * double(cfg.patch_size) * double(cfg.patch_size);
  const double factor = std::sqrt(target_px / total_px);
  const double ideal_h = factor * height, ideal_w = factor * width;
  const int64_t side = int64_t(cfg.pooling_kernel_size) * cfg.patch_size;
  int64_t th = int64_t(std::floor(ideal_h / double(side))) * side;
  int64_t tw = int64_t(std::floor(ideal_w / double(side))) * side;
  check(th != 0 || tw != 0, "image processor: the image would be resized to 0 x 0");
  const int64_t max_side = (max_patches / (int64_t(cfg.pooling_kernel_size) * cfg.pooling_kernel_size)) * side;
  // A very thin image keeps one row (or column) of pooling blocks and as many along its length as fit.
  if (th == 0) {
    th = side;
    tw = std::min(int64_t(std::floor(double(width) / double(height))) * side, max_side);
  } else if (tw == 0) {
    tw = side;
    th = std::min(int64_t(std::floor(double(height) / double(width))) * side, max_side);
  }
  check(double(th) * double(tw) <= target_px, "image processor: resizing " + std::to_string(height) + "x" +
                                                 std::to_string(width) + " exceeds " + std::to_string(max_patches) +
                                                 " patches");
  return {int(th), int(tw)};
}

ImageFeatures preprocess_image(const Image& image, const ImageProcessorConfig& cfg, int soft_token_budget) {
  const int budget = soft_token_budget > 0 ? soft_token_budget : cfg.max_soft_tokens;
  check(is_supported_soft_token_budget(budget), "image processor: " + std::to_string(budget) +
                                                    " soft tokens per image is not supported (70, 140, 280, 560 "
                                                    "or 1120)");
  check(image.width > 0 && image.height > 0 && image.rgb.size() == size_t(image.width) * image.height * 3,
        "image processor: empty or malformed image");
  const int ps = cfg.patch_size, k = cfg.pooling_kernel_size;
  ImageFeatures f;
  f.max_patches = budget * k * k;
  f.patch_dim = 3 * ps * ps;
  Image img = image;
  if (cfg.do_resize) {
    auto [th, tw] = aspect_preserving_size(image.height, image.width, cfg, budget);
    if (th != image.height || tw != image.width) img = resize_image(image, tw, th, cfg.resample);
  }
  check(img.width % ps == 0 && img.height % ps == 0,
        "image processor: " + std::to_string(img.width) + "x" + std::to_string(img.height) +
            " is not a multiple of the patch size (do_resize is off)");
  f.resized_width = img.width;
  f.resized_height = img.height;
  f.patches_w = img.width / ps;
  f.patches_h = img.height / ps;
  const int num_patches = f.patches_w * f.patches_h;
  check(num_patches > 0 && num_patches <= f.max_patches,
        "image processor: " + std::to_string(num_patches) + " patches for a budget of " +
            std::to_string(f.max_patches) + " (is do_resize off for a large image?)");
  f.num_soft_tokens = num_patches / (k * k);

  // Per channel: value * rescale, then (x - mean) / std; all in float32 like the reference tensors.
  float lut[3][256];
  for (int c = 0; c < 3; ++c) {
    for (int v = 0; v < 256; ++v) {
      float x = cfg.do_rescale ? float(v) * float(cfg.rescale_factor) : float(v);
      if (cfg.do_normalize) x = (x - cfg.image_mean[c]) / cfg.image_std[c];
      lut[c][v] = x;
    }
  }
  f.pixel_values.assign(size_t(f.max_patches) * size_t(f.patch_dim), 0.0f);
  f.position_ids.assign(size_t(f.max_patches) * 2, -1);
  for (int py = 0; py < f.patches_h; ++py) {
    for (int px = 0; px < f.patches_w; ++px) {
      const size_t patch = size_t(py) * f.patches_w + px;
      float* out = &f.pixel_values[patch * size_t(f.patch_dim)];
      // Patch layout (row, column, channel): convert_image_to_patches' permute(1, 3, 2, 4, 0).
      for (int r = 0; r < ps; ++r) {
        const uint8_t* row = &img.rgb[((size_t(py) * ps + r) * img.width + size_t(px) * ps) * 3];
        for (int i = 0; i < ps * 3; ++i) out[r * ps * 3 + i] = lut[i % 3][row[i]];
      }
      f.position_ids[patch * 2] = px;
      f.position_ids[patch * 2 + 1] = py;
    }
  }
  return f;
}

}  // namespace g4::media
