// Server benchmark (not a test): throughput and latency percentiles of `gemma4 serve`'s engine at
// several numbers of concurrent clients, with continuous batching and without it.
//
//   build/server_bench --model e2b-q4_0.gguf [--clients 1,4,16] [--requests 2] [--max-tokens 32]
//                      [--prompt-words 64] [--ctx 1024] [--modes batched,serial,unbatched]
//
// Modes: batched   = --parallel C (every running sequence shares one forward pass per step)
//        serial    = --parallel 1 (one request at a time; the others wait in the queue)
//        unbatched = --parallel C --no-batching (sequences interleave, each in its own forward pass)
// Each client sends `requests` streamed chat requests one after another (distinct prompts, greedy);
// latency is per request (time to first token, end to end), throughput is generated tokens per
// second of wall time over the whole run. The server runs in this process on a free loopback port
// and is reached over real HTTP.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "core/error.h"
#include "core/json.h"
#include "core/thread_pool.h"
#include "runtime/chat.h"
#include "server/server.h"

namespace {

using clk = std::chrono::steady_clock;

struct Sample {
  double ttft = 0, total = 0;
  int tokens = 0;
  bool ok = false;
};

Sample one_request(int port, const std::string& body) {
  Sample s;
  auto t0 = clk::now();
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(uint16_t(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    close(fd);
    return s;
  }
  std::string req = "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\n"
                    "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  send(fd, req.data(), req.size(), MSG_NOSIGNAL);
  std::string got;
  char buf[16384];
  bool first = false;
  for (;;) {
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    got.append(buf, size_t(n));
    if (!first && (got.find("\"content\":\"", got.find("\"delta\"")) != std::string::npos) &&
        got.find("\"content\":\"\"") != got.rfind("\"content\":\"")) {
      first = true;
      s.ttft = std::chrono::duration<double>(clk::now() - t0).count();
    }
  }
  close(fd);
  s.total = std::chrono::duration<double>(clk::now() - t0).count();
  size_t u = got.rfind("\"completion_tokens\":");
  if (u != std::string::npos && got.find("[DONE]") != std::string::npos) {
    s.tokens = std::atoi(got.c_str() + u + 20);
    s.ok = true;
  }
  if (!first) s.ttft = s.total;
  return s;
}

double pct(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = size_t(std::min<double>(double(v.size() - 1), p / 100.0 * double(v.size() - 1) + 0.5));
  return v[i];
}

std::vector<int> int_list(const std::string& s) {
  std::vector<int> out;
  std::stringstream ss(s);
  std::string x;
  while (std::getline(ss, x, ',')) out.push_back(std::atoi(x.c_str()));
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  std::map<std::string, std::string> opt = {{"clients", "1,4,16"}, {"requests", "2"},  {"max-tokens", "32"},
                                            {"prompt-words", "64"}, {"ctx", "1024"},   {"modes", "batched,serial"},
                                            {"threads", "0"},       {"model", ""}};
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i];
    if (k.rfind("--", 0) != 0 || !opt.count(k.substr(2))) {
      std::fprintf(stderr, "unknown option %s\n", argv[i]);
      return 2;
    }
    opt[k.substr(2)] = argv[i + 1];
  }
  if (opt["model"].empty()) {
    std::fprintf(stderr,
                 "usage: server_bench --model FILE [--clients 1,4,16] [--requests N] [--max-tokens N] [--prompt-words N]\n"
                 "                    [--ctx N] [--modes batched,serial,unbatched] [--threads N]\n");
    return 2;
  }
  try {
    if (std::atoi(opt["threads"].c_str()) > 0) g4::ThreadPool::set_default_threads(std::atoi(opt["threads"].c_str()));
    auto t_load = clk::now();
    std::shared_ptr<const g4::Model> model = g4::load_model(opt["model"]);
    std::shared_ptr<const g4::ChatFormat> chat = g4::ChatFormat::load(opt["model"]);
    std::fprintf(stderr, "loaded %s in %.1f s (%d threads)\n", opt["model"].c_str(),
                 std::chrono::duration<double>(clk::now() - t_load).count(), g4::ThreadPool::global().size());
    const int requests = std::atoi(opt["requests"].c_str());
    const int max_tokens = std::atoi(opt["max-tokens"].c_str());
    const int words = std::atoi(opt["prompt-words"].c_str());
    std::vector<std::string> modes;
    {
      std::stringstream ss(opt["modes"]);
      std::string m;
      while (std::getline(ss, m, ',')) modes.push_back(m);
    }
    std::printf("| mode | clients | requests | gen tokens | wall s | tokens/s | TTFT p50 / p90 / p99 s | latency p50 / p90 / p99 s |\n");
    std::printf("|---|---:|---:|---:|---:|---:|---|---|\n");
    for (const std::string& mode : modes) {
      for (int clients : int_list(opt["clients"])) {
        g4::server::ServerOptions so;
        so.port = 0;
        so.model_id = "bench";
        so.log_requests = false;
        so.scheduler.ctx = std::atoll(opt["ctx"].c_str());
        so.scheduler.parallel = mode == "serial" ? 1 : clients;
        so.scheduler.batching = mode != "unbatched";
        so.scheduler.max_queue = 1024;
        so.defaults.temperature = 0;
        so.fixed_seed = true;
        g4::server::ApiServer server(model, chat, so);
        server.start();
        std::vector<Sample> samples;
        std::mutex mu;
        auto t0 = clk::now();
        std::vector<std::thread> th;
        for (int c = 0; c < clients; ++c) {
          th.emplace_back([&, c] {
            for (int r = 0; r < requests; ++r) {
              std::string text = "Client " + std::to_string(c) + " request " + std::to_string(r) + " (" + mode + "):";
              for (int w = 0; w < words; ++w) text += " word" + std::to_string((c * 131 + r * 17 + w) % 97);
              g4::Json body = {{"model", "bench"},
                               {"messages", g4::Json::array({{{"role", "user"}, {"content", text}}})},
                               {"max_tokens", max_tokens},
                               {"temperature", 0},
                               {"stream", true},
                               {"stream_options", {{"include_usage", true}}}};
              Sample s = one_request(server.port(), body.dump());
              std::lock_guard<std::mutex> lk(mu);
              samples.push_back(s);
            }
          });
        }
        for (auto& t : th) t.join();
        double wall = std::chrono::duration<double>(clk::now() - t0).count();
        server.stop();
        std::vector<double> ttft, total;
        int64_t tokens = 0;
        int failed = 0;
        for (auto& s : samples) {
          if (!s.ok) {
            ++failed;
            continue;
          }
          ttft.push_back(s.ttft);
          total.push_back(s.total);
          tokens += s.tokens;
        }
        std::printf("| %s | %d | %zu%s | %lld | %.1f | %.2f | %.2f / %.2f / %.2f | %.2f / %.2f / %.2f |\n", mode.c_str(), clients,
                    samples.size(), failed ? (" (" + std::to_string(failed) + " failed)").c_str() : "", (long long)tokens, wall,
                    double(tokens) / wall, pct(ttft, 50), pct(ttft, 90), pct(ttft, 99), pct(total, 50), pct(total, 90),
                    pct(total, 99));
        std::fflush(stdout);
      }
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
