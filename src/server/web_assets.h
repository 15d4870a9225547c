#pragma once
// The chat page `gemma4 serve` answers at "/": static files from src/server/webui, compiled into the
// binary (cmake/embed_files.cmake), served with a strict Content-Security-Policy (scripts and styles
// only from the page's own files, requests only to this server) so that nothing a model writes can
// run as script in the page, even if the page's own renderer had a bug.
#include <cstddef>
#include <string>
#include <vector>

#include "server/http_server.h"

namespace g4::server {

struct EmbeddedFile {
  const char* name;  // file name in src/server/webui
  const char* data;
  size_t size;
};
const std::vector<EmbeddedFile>& embedded_web_files();  // generated

// The file a request path names ("/" is index.html), or nullptr.
const EmbeddedFile* find_web_file(const std::string& path);
extern const char* const kWebPageCsp;
// Sends the file with its content type and the security headers.
void send_web_file(const EmbeddedFile& file, HttpResponse& res);

}  // namespace g4::server
