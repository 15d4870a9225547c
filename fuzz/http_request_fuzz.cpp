// libFuzzer target: the HTTP request parser (Beast plus our RFC 9112 checks) fed a connection's bytes in
// pieces, as the server feeds it. Every input must end in whole requests, a refusal with one of the
// statuses the server sends, or a wait for more bytes: no crash, no request or body beyond the limits,
// no byte counted twice. The first input byte picks the piece size, so split points get explored too.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "server/http_parser.h"

using g4::server::HttpParseLimits;
using g4::server::HttpRequest;
using g4::server::HttpRequestParser;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const size_t step = size_t(data[0]) + 1;
  ++data, --size;
  HttpParseLimits limits;
  limits.max_head_bytes = 4096;
  limits.max_body_bytes = 16384;
  limits.max_line_bytes = 512;
  HttpRequestParser parser(limits);
  std::string pending;
  size_t pos = 0, consumed = 0;
  for (;;) {
    if (pos < size) {
      const size_t n = size - pos < step ? size - pos : step;
      pending.append(reinterpret_cast<const char*>(data + pos), n);
      pos += n;
    }
    const size_t used = parser.feed(pending);
    if (used > pending.size()) std::abort();
    consumed += used;
    pending.erase(0, used);
    if (parser.state() == HttpRequestParser::State::Error) {
      const int s = parser.error_status();
      if (s != 400 && s != 413 && s != 417 && s != 431 && s != 505) std::abort();
      if (parser.error_message().empty()) std::abort();
      break;
    }
    if (parser.state() == HttpRequestParser::State::Done) {
      HttpRequest r = parser.take();
      if (r.body.size() > limits.max_body_bytes) std::abort();
      if (r.method.empty() || r.path.empty() || (r.path[0] != '/' && r.path != "*")) std::abort();
      if (r.version != "HTTP/1.1" && r.version != "HTTP/1.0") std::abort();
      for (const auto& [name, value] : r.headers)
        for (char c : name + value)
          if (c == '\r' || c == '\n' || c == '\0') std::abort();  // nothing could be injected downstream
      parser.reset();
      continue;
    }
    // A head that waits must still fit the limit (a body waits at most for one bounded line).
    if (parser.state() == HttpRequestParser::State::Head && pending.size() > limits.max_head_bytes + 4) std::abort();
    if (pos >= size) break;
  }
  if (consumed > size) std::abort();
  return 0;
}
