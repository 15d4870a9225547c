#pragma once
// Raw-socket helpers for the HTTP tests: connect, send bytes, read responses (Content-Length, chunked
// or until close), and count this process's (or another's) descriptors and threads.
#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <string>

namespace g4::test {

// A connected loopback socket (or -1), with a receive timeout so that a test never hangs.
inline int connect_to(int port, int recv_timeout_ms = 10000) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(uint16_t(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  timeval tv{recv_timeout_ms / 1000, (recv_timeout_ms % 1000) * 1000};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return fd;
}

// Sends everything; false when the peer is gone.
inline bool send_all(int fd, const std::string& s) {
  size_t off = 0;
  while (off < s.size()) {
    ssize_t n = ::send(fd, s.data() + off, s.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return false;
    off += size_t(n);
  }
  return true;
}

// Reads until the peer closes (or the receive timeout passes).
inline std::string read_all(int fd) {
  std::string out;
  char buf[16384];
  for (;;) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    out.append(buf, size_t(n));
  }
  return out;
}

// True when the peer has closed the connection (EOF or reset) within `ms`; bytes still arriving
// before the close are drained into `got` when given.
inline bool closed_within(int fd, int ms, std::string* got = nullptr) {
  auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  char buf[16384];
  for (;;) {
    int left = int(std::chrono::duration_cast<std::chrono::milliseconds>(end - std::chrono::steady_clock::now()).count());
    if (left <= 0) return false;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, left) <= 0) return false;
    ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n == 0) return true;
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      return true;  // reset
    }
    if (got) got->append(buf, size_t(n));
  }
}

struct Response {
  int status = 0;
  std::string head, body;
  bool chunked = false;
  bool complete = false;  // the framing said where the body ends and all of it arrived
  bool has_header(const std::string& line) const { return head.find("\r\n" + line) != std::string::npos; }
  // The value of header `name` (as sent), or "" when absent.
  std::string header(const std::string& name) const {
    std::string lower_head = head, lower_name = name;
    for (char& c : lower_head) c = char(std::tolower(static_cast<unsigned char>(c)));
    for (char& c : lower_name) c = char(std::tolower(static_cast<unsigned char>(c)));
    size_t at = lower_head.find("\r\n" + lower_name + ":");
    if (at == std::string::npos) return "";
    size_t b = at + 3 + name.size(), e = head.find("\r\n", b);
    while (b < e && head[b] == ' ') ++b;
    return head.substr(b, e - b);
  }
};

// Parses one response from the front of `buf` and removes it. Interim 1xx responses are skipped
// unless keep_interim. Incomplete: status 0 (nothing removed).
inline Response take_response(std::string& buf, bool head_request = false, bool keep_interim = false) {
  Response r;
  for (;;) {
    size_t he = buf.find("\r\n\r\n");
    if (buf.size() < 12 || he == std::string::npos) return r;
    int status = std::atoi(buf.substr(9, 3).c_str());
    if (status >= 100 && status < 200 && !keep_interim) {
      buf.erase(0, he + 4);
      continue;
    }
    Response out;
    out.status = status;
    out.head = buf.substr(0, he);
    size_t pos = he + 4;
    std::string cl = out.header("Content-Length");
    out.chunked = out.header("Transfer-Encoding") == "chunked";
    if (head_request || status < 200 || status == 204 || status == 304) {
      out.complete = true;
    } else if (out.chunked) {
      for (;;) {
        size_t le = buf.find("\r\n", pos);
        if (le == std::string::npos) return r;
        size_t n = std::strtoul(buf.substr(pos, le - pos).c_str(), nullptr, 16);
        if (buf.size() < le + 2 + n + 2) return r;
        out.body += buf.substr(le + 2, n);
        pos = le + 2 + n + 2;
        if (n == 0) {
          out.complete = true;
          break;
        }
      }
    } else if (!cl.empty()) {
      size_t n = std::strtoul(cl.c_str(), nullptr, 10);
      if (buf.size() < pos + n) return r;
      out.body = buf.substr(pos, n);
      pos += n;
      out.complete = true;
    } else {
      out.body = buf.substr(pos);  // delimited by the close
      pos = buf.size();
    }
    buf.erase(0, pos);
    return out;
  }
}

// Reads from fd until one whole response is in `buf` (or the peer closes / times out).
inline Response read_response(int fd, std::string& buf, bool head_request = false) {
  char tmp[16384];
  for (;;) {
    std::string copy = buf;
    Response r = take_response(copy, head_request);
    if (r.status != 0 && r.complete) {
      buf = copy;
      return r;
    }
    ssize_t n = ::recv(fd, tmp, sizeof tmp, 0);
    if (n <= 0) return take_response(buf, head_request);
    buf.append(tmp, size_t(n));
  }
}

// Sends one request on a fresh connection and reads the response until the server closes.
inline Response request_once(int port, const std::string& raw, int recv_timeout_ms = 10000) {
  int fd = connect_to(port, recv_timeout_ms);
  if (fd < 0) return {};
  send_all(fd, raw);
  std::string all = read_all(fd);
  ::close(fd);
  return take_response(all);
}

inline int count_dir(const std::string& path) {
  DIR* d = ::opendir(path.c_str());
  if (!d) return -1;
  int n = 0;
  while (dirent* e = ::readdir(d))
    if (e->d_name[0] != '.') ++n;
  ::closedir(d);
  return n;
}
inline int open_fds(const std::string& pid = "self") { return count_dir("/proc/" + pid + "/fd"); }
inline int threads(const std::string& pid = "self") { return count_dir("/proc/" + pid + "/task"); }

}  // namespace g4::test
