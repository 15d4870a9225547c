#pragma once
// Media in prompts: from a file or request bytes to soft tokens (through the model's towers), and from
// a prompt with one placeholder per picture (as the chat template writes it) to the ids the model
// reads, the spans of soft tokens, and the key prefix reuse compares.
//
// Image placeholders expand as the official processor does: <|image|> -> <|image> + N x <|image|> +
// <image|> (audio: <|audio> + N x <|audio|> + <audio|>). In the prefix-cache key each placeholder is
// replaced by a negative id derived from the soft tokens' content, so a later turn that repeats an
// image keeps its cached keys and values, and a different image with the same count does not.
//
// Decoding (PNG, JPEG, WebP, GIF, BMP; WAV, FLAC, OGG, MP3) and the image processor / audio feature
// extractor live in the media module (src/media). Until it is wired in here, image files are read only
// as `.safetensors` holding `pixel_values` [1, P, 3*p*p] and `image_position_ids` [1, P, 2] (what the
// fixtures and `transformers`' processor produce); other files are refused with a clear error.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "model/model.h"

namespace g4 {

enum class MediaKind { Image, Audio };

// Bounds on what a request may send (the server's; the CLI uses the defaults).
struct MediaLimits {
  size_t max_bytes = 32u << 20;          // per item, encoded
  int64_t max_pixels = 50'000'000;       // per image, decoded (checked from the header first)
  int max_items = 16;                    // per request
};

// One picture or clip after its tower.
struct EncodedMedia {
  MediaKind kind = MediaKind::Image;
  int64_t n_tokens = 0;
  std::vector<float> soft;   // [n_tokens, text hidden]
  uint64_t hash = 0;         // of the soft tokens' bytes
  std::string what;          // file name or "image 2 of the request", for messages
};
using MediaList = std::vector<std::shared_ptr<const EncodedMedia>>;

// How pictures become soft tokens.
struct MediaEncoding {
  int image_tokens = 0;                // the soft-token budget (0: the model's default)
  TowerMath math = TowerMath::Exact;   // the vision tower's arithmetic (model/multimodal.h); the CLI's run,
                                       // chat and serve default to Fast, logits and media to Exact
};

// The soft-token budget of an image: 70, 140, 280, 560 or 1120 (0: the model's default, 280).
int image_token_budget(int requested);

// An image file for `model`. Throws g4::Error naming the file (no vision tower, unreadable or undecodable
// file, inconsistent pixel data).
std::shared_ptr<const EncodedMedia> encode_image_file(const Model& model, const std::string& path, const MediaEncoding& encoding = {},
                                                      const MediaLimits& limits = {});
// The same for bytes already in memory (a request's data: URL); `what` names them in errors.
std::shared_ptr<const EncodedMedia> encode_image_bytes(const Model& model, const std::string& bytes, const std::string& what,
                                                       const MediaEncoding& encoding = {}, const MediaLimits& limits = {});
// Audio: refused with an error naming the model when it has no audio tower (26B/31B).
std::shared_ptr<const EncodedMedia> encode_audio_file(const Model& model, const std::string& path, const MediaLimits& limits = {});
std::shared_ptr<const EncodedMedia> encode_audio_bytes(const Model& model, const std::string& bytes, const std::string& what,
                                                       const MediaLimits& limits = {});

// Soft tokens from pixel data already processed (the reference's pixel_values / image_position_ids).
std::shared_ptr<const EncodedMedia> encode_pixels(const Model& model, const float* pixel_values, const int32_t* positions,
                                                  int64_t n_patches, const std::string& what, TowerMath math);

// A prompt with its media in place.
struct MediaPrompt {
  std::vector<int32_t> ids;        // what the model reads (placeholders expanded)
  std::vector<int32_t> cache_key;  // ids with content-derived keys in place of placeholders
  std::vector<MediaSpan> spans;    // soft tokens, pointing into `media`
  MediaList media;
  int64_t hidden = 0;              // row width of the soft tokens
  // Per prompt token (for BatchItem): its soft-token row or null; the last position of its
  // bidirectional block or -1 (positions counted from the prompt's start).
  std::vector<const float*> rows;
  std::vector<int64_t> block_end;
  bool has_blocks = false;

  // Where a prefill chunk [from, end) should end so that no bidirectional block is split: before the
  // block `end` would cut, or past its end when the block starts at `from`.
  size_t chunk_end(size_t from, size_t end) const;

  // The spans of ids[from:], with offsets relative to `from` (prefix reuse prefills only the rest; a
  // span cut by `from` keeps its tail, which is exact: the cached head saw the whole block).
  std::vector<MediaSpan> spans_from(size_t from) const;
};

// `ids` as the chat template wrote them: each single image (audio) placeholder takes the next image
// (audio) of `media`, in order, and expands to its begin marker, soft-token placeholders and end
// marker. Throws when the counts of placeholders and media differ.
MediaPrompt expand_media(const Model& model, const std::vector<int32_t>& ids, const MediaList& media);
// `ids` already expanded (as the fixtures' input_ids): each run of placeholders takes the next media
// item of its kind, whose soft-token count must equal the run's length.
MediaPrompt place_media(const Model& model, const std::vector<int32_t>& ids, const MediaList& media);

// A KV-cache chunk size that holds the largest image a bidirectional model may get in one pass.
int media_chunk_size(const Model& model, int chunk);

}  // namespace g4
