#include "server/web_assets.h"

#include <string_view>

namespace g4::server {

// default-src 'none': everything not listed is refused (plugins, frames, fonts, media, workers);
// no 'unsafe-inline' or 'unsafe-eval' anywhere; images only from the page itself, blob: and data: (the
// attachment previews); fetch() only to this server; no <base>, no forms posting elsewhere, no framing.
const char* const kWebPageCsp =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; media-src 'self' blob: data:; "
    "connect-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

namespace {

std::string content_type(std::string_view name) {
  auto ends = [&](std::string_view ext) { return name.size() >= ext.size() && name.substr(name.size() - ext.size()) == ext; };
  if (ends(".html")) return "text/html; charset=utf-8";
  if (ends(".js")) return "text/javascript; charset=utf-8";
  if (ends(".css")) return "text/css; charset=utf-8";
  if (ends(".svg")) return "image/svg+xml";
  return "application/octet-stream";
}

}  // namespace

const EmbeddedFile* find_web_file(const std::string& path) {
  const std::string name = path == "/" ? "index.html" : path.size() > 1 ? path.substr(1) : "";
  if (name.empty() || name.find('/') != std::string::npos) return nullptr;
  for (const EmbeddedFile& f : embedded_web_files())
    if (name == f.name) return &f;
  return nullptr;
}

void send_web_file(const EmbeddedFile& file, HttpResponse& res) {
  res.set_header("Content-Security-Policy", kWebPageCsp);
  res.set_header("X-Content-Type-Options", "nosniff");
  res.set_header("X-Frame-Options", "DENY");
  res.set_header("Referrer-Policy", "no-referrer");
  res.set_header("Cache-Control", "no-cache");
  res.send(200, content_type(file.name), std::string_view(file.data, file.size));
}

}  // namespace g4::server
