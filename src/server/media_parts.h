#pragma once
// Media content parts of chat requests (OpenAI `image_url` and `input_audio`): parsed into the chat
// template's placeholders ({"type": "image"} / {"type": "audio"}) and references to their bytes, then
// resolved to soft tokens through the model's towers when the request is formatted.
//
// Sources: base64 `data:` URLs; `file://` paths only inside the folder the operator allows with
// --media-dir (checked after resolving links); remote URLs are refused (nothing here fetches).
// Limits: bytes per item and per request (413), pixels per image, items per request (400).
#include <string>
#include <vector>

#include "core/json.h"
#include "runtime/media_input.h"

namespace g4::server {

struct MediaRef {
  MediaKind kind = MediaKind::Image;
  std::string url;      // image_url.url, or the audio data
  std::string format;   // input_audio.format ("wav", "mp3")
  std::string where;    // "messages[1].content[0]", for errors
  std::string field;    // the field holding the bytes, for errors ("" : where + ".image_url.url" / ".input_audio.data")
};

// Where each media item was in a request of another API that was mapped onto a chat request (the
// Responses API's input items, the Messages API's blocks), in the order the mapping wrote them.
struct MediaPaths {
  std::vector<std::string> where, field;
  void add(std::string w, std::string f) { where.push_back(std::move(w)), field.push_back(std::move(f)); }
  // Names the chat request's media by these paths (errors then name the field the client sent).
  void apply(std::vector<MediaRef>& refs) const;
};

struct ServerMediaOptions {
  std::string media_dir;             // empty: file:// URLs refused
  MediaLimits limits;
  size_t max_request_bytes = 64u << 20;
  MediaEncoding encoding;            // budget and tower arithmetic (`serve` defaults to TowerMath::Fast)
};

// An image_url / input_audio part at `where`: records it in `refs` and returns the template's part.
// Throws ApiError (400) naming the field for a malformed part.
Json parse_media_part(const Json& part, const std::string& where, std::vector<MediaRef>& refs);

// Bytes of every reference, then soft tokens. Throws ApiError: 400 (bad URL, refused source, decoding or
// tower errors, a model without the tower), 413 (too many bytes).
MediaList resolve_media(const Model& model, const std::vector<MediaRef>& refs, const ServerMediaOptions& options);

// Base64 (standard alphabet, padding optional, no whitespace); throws g4::Error on a bad character.
std::string base64_decode(const std::string& in);

}  // namespace g4::server
