#include "server/media_parts.h"

#include <array>
#include <climits>
#include <cstdlib>
#include <filesystem>

#include "core/error.h"
#include "core/mapped_file.h"
#include "server/openai_api.h"

namespace g4::server {

namespace {

bool starts_with(const std::string& s, const char* p) { return s.rfind(p, 0) == 0; }

[[noreturn]] void bad(const std::string& where, const std::string& msg, const std::string& code = "invalid_value") {
  throw ApiError(400, msg, where, code);
}

}  // namespace

std::string base64_decode(const std::string& in) {
  static const auto table = [] {
    std::array<int, 256> t{};
    t.fill(-1);
    const char* a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (int i = 0; i < 64; ++i) t[static_cast<unsigned char>(a[i])] = i;
    return t;
  }();
  std::string out;
  out.reserve(in.size() / 4 * 3);
  uint32_t acc = 0;
  int bits = 0;
  size_t pad = 0;
  for (char c : in) {
    if (c == '=') {
      ++pad;
      continue;
    }
    if (pad) throw Error("base64 data continues after its padding");
    const int v = table[static_cast<unsigned char>(c)];
    if (v < 0) throw Error("base64 data holds an invalid character");
    acc = (acc << 6) | uint32_t(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(char((acc >> bits) & 0xff));
    }
  }
  if (pad > 2) throw Error("base64 data has too much padding");
  return out;
}

Json parse_media_part(const Json& part, const std::string& where, std::vector<MediaRef>& refs) {
  const std::string type = part.value("type", "");
  MediaRef r;
  r.where = where;
  if (type == "image_url") {
    const Json* u = part.contains("image_url") ? &part["image_url"] : nullptr;
    if (!u) bad(where + ".image_url", "'" + where + ".image_url' is required");
    if (u->is_string()) {
      r.url = u->get<std::string>();
    } else if (u->is_object() && u->contains("url") && (*u)["url"].is_string()) {
      r.url = (*u)["url"].get<std::string>();
      for (auto it = u->begin(); it != u->end(); ++it) {
        if (it.key() == "url" || it.value().is_null()) continue;
        if (it.key() == "detail" && it.value() == "auto") continue;
        bad(where + ".image_url." + it.key(), "'" + where + ".image_url." + it.key() + "' is not supported (the image token budget is set with the server's --image-tokens)",
            "unsupported_parameter");
      }
    } else {
      bad(where + ".image_url", "'" + where + ".image_url' must be an object with a 'url' string", "invalid_type");
    }
    r.kind = MediaKind::Image;
  } else if (type == "input_audio") {
    const Json* a = part.contains("input_audio") ? &part["input_audio"] : nullptr;
    if (!a || !a->is_object() || !a->contains("data") || !(*a)["data"].is_string())
      bad(where + ".input_audio", "'" + where + ".input_audio' must be an object with base64 'data' and a 'format'", "invalid_type");
    r.kind = MediaKind::Audio;
    r.url = "data:audio;base64," + (*a)["data"].get<std::string>();
    r.format = a->value("format", "");
    if (r.format != "wav" && r.format != "mp3") bad(where + ".input_audio.format", "'" + where + ".input_audio.format' must be 'wav' or 'mp3'");
  } else {
    bad(where + ".type", "content parts of type '" + type + "' are not supported here");
  }
  for (auto it = part.begin(); it != part.end(); ++it)
    if (it.key() != "type" && it.key() != (r.kind == MediaKind::Image ? "image_url" : "input_audio") && !it.value().is_null())
      bad(where + "." + it.key(), "Unrecognized argument '" + where + "." + it.key() + "'", "unsupported_parameter");
  refs.push_back(r);
  return Json{{"type", r.kind == MediaKind::Image ? "image" : "audio"}};
}

namespace {

std::string fetch_bytes(const MediaRef& r, const ServerMediaOptions& o, size_t& total) {
  const std::string& url = r.url;
  const std::string field = !r.field.empty() ? r.field : r.where + (r.kind == MediaKind::Image ? ".image_url.url" : ".input_audio.data");
  std::string bytes;
  if (starts_with(url, "data:")) {
    const size_t comma = url.find(',');
    if (comma == std::string::npos || comma < 12 || url.compare(comma - 7, 7, ";base64") != 0)
      bad(field, "'" + field + "' must be a base64 data: URL (data:<type>;base64,<data>)");
    const size_t encoded = url.size() - comma - 1;
    if (encoded / 4 * 3 > o.limits.max_bytes)
      throw ApiError(413, "'" + field + "' holds about " + std::to_string(encoded / 4 * 3) + " bytes, more than the limit of " +
                              std::to_string(o.limits.max_bytes) + " bytes per media item", field, "media_too_large");
    try {
      bytes = base64_decode(url.substr(comma + 1));
    } catch (const Error& e) {
      bad(field, "'" + field + "': " + e.what());
    }
  } else if (starts_with(url, "file://")) {
    if (o.media_dir.empty())
      bad(field, "file:// URLs are refused: the server was not started with --media-dir", "file_urls_disabled");
    std::error_code ec;
    const std::filesystem::path dir = std::filesystem::weakly_canonical(o.media_dir, ec);
    const std::filesystem::path p = std::filesystem::weakly_canonical(url.substr(7), ec);
    if (ec) bad(field, "'" + field + "' names a file that cannot be resolved");
    const std::string ds = dir.string() + "/", ps = p.string();
    if (ps.compare(0, ds.size(), ds) != 0) bad(field, "'" + field + "' is outside the folder the server allows (--media-dir)", "file_outside_media_dir");
    if (!std::filesystem::is_regular_file(p, ec)) bad(field, "'" + field + "' is not a readable file");
    const auto size = std::filesystem::file_size(p, ec);
    if (ec || size > o.limits.max_bytes)
      throw ApiError(413, "'" + field + "' is larger than the limit of " + std::to_string(o.limits.max_bytes) + " bytes per media item", field,
                     "media_too_large");
    bytes = read_text_file(ps);
  } else if (starts_with(url, "http://") || starts_with(url, "https://")) {
    bad(field, "'" + field + "': remote URLs are not fetched by this server: send the image as a base64 data: URL", "remote_url_refused");
  } else {
    bad(field, "'" + field + "' must be a data: URL (or file:// inside --media-dir)");
  }
  total += bytes.size();
  if (total > o.max_request_bytes)
    throw ApiError(413, "the request's media take more than " + std::to_string(o.max_request_bytes) + " bytes", field, "media_too_large");
  return bytes;
}

}  // namespace

void MediaPaths::apply(std::vector<MediaRef>& refs) const {
  if (refs.size() != where.size()) return;  // a mapping that lost count: keep the chat names rather than guess
  for (size_t i = 0; i < refs.size(); ++i) {
    refs[i].where = where[i];
    refs[i].field = field[i];
  }
}

MediaList resolve_media(const Model& model, const std::vector<MediaRef>& refs, const ServerMediaOptions& o) {
  if (int(refs.size()) > o.limits.max_items)
    bad(refs[size_t(o.limits.max_items)].where, "a request may hold at most " + std::to_string(o.limits.max_items) + " media items");
  MediaList out;
  size_t total = 0;
  for (const MediaRef& r : refs) {
    // The model can take this kind at all (a clear error before any bytes are decoded).
    const std::string what = (r.kind == MediaKind::Image ? "the image at " : "the audio at ") + r.where;
    try {
      if (!model.media()) throw Error("this model has no media towers (text only)");
      if (r.kind == MediaKind::Image && !model.media()->vision) throw Error("the model " + model.media()->model_name + " has no vision tower");
      if (r.kind == MediaKind::Audio && !model.media()->audio)
        throw Error("the model " + model.media()->model_name + " has no audio tower (Gemma 4 26B and 31B take images, not audio)");
    } catch (const Error& e) {
      bad(r.where, std::string("cannot use ") + what + ": " + e.what(), "unsupported_content");
    }
    const std::string bytes = fetch_bytes(r, o, total);
    try {
      out.push_back(r.kind == MediaKind::Image ? encode_image_bytes(model, bytes, what, o.encoding, o.limits)
                                                : encode_audio_bytes(model, bytes, what, o.limits));
    } catch (const Error& e) {
      bad(r.where, e.what(), "invalid_media");
    }
  }
  return out;
}

}  // namespace g4::server
