// gemma4 serve: the OpenAI-compatible HTTP server (continuous batching over --parallel KV slots).
#include <atomic>
#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <pthread.h>
#include <thread>

#include "cli/args.h"
#include "cli/command.h"
#include "cli/model_option.h"
#include "cli/common.h"
#include "cli/draft_options.h"
#include "cli/media_options.h"
#include "core/mapped_file.h"
#include "cli/sampling_options.h"
#include "core/error.h"
#include "runtime/chat.h"
#include "server/server.h"

namespace {

std::string default_model_id(std::string path) {
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  size_t slash = path.find_last_of('/');
  std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
  if (base.size() > 5 && base.compare(base.size() - 5, 5, ".gguf") == 0) base.resize(base.size() - 5);
  return base.empty() ? "gemma4" : base;
}

// --cors: "*" or one exact origin, scheme://host[:port] (what browsers send in Origin).
std::string cors_origin_from(const std::string& v) {
  if (v == "*") return v;
  const size_t scheme = v.find("://");
  const bool ok_scheme = scheme != std::string::npos && (v.compare(0, scheme, "http") == 0 || v.compare(0, scheme, "https") == 0);
  bool ok = ok_scheme && v.size() > scheme + 3 && v.find('/', scheme + 3) == std::string::npos;
  for (char c : v) ok = ok && static_cast<unsigned char>(c) > 0x20 && c != 0x7f && c != ',';
  if (!ok) throw g4::Error("--cors must be '*' or one origin such as https://app.example or http://localhost:3000 (got '" + v + "')");
  return v;
}

int run_serve(int argc, char** argv) {
  g4::cli::Args args("serve",
                     "Serve a model over an OpenAI-compatible HTTP API (/v1/chat/completions, /v1/completions,\n"
                     "/v1/models, /health, /metrics). Binds to loopback unless --host says otherwise.");
  g4::cli::add_model_option(args, g4::cli::ModelUse::Chat);
  args
      .option("host", "HOST", "address to bind (0.0.0.0 or :: for every interface)", false, "127.0.0.1")
      .option("port", "N", "TCP port (0 picks a free one; the chosen port is printed)", false, "8080")
      .option("parallel", "N", "sequences decoded together (KV slots)", false, "4")
      .option("queue", "N", "requests that may wait for a slot before the server answers 503", false, "64")
      .option("prefill-chunk", "N", "prompt tokens per engine step", false, "256")
      .option("ctx-checkpoints", "N",
              "sliding-window checkpoints per slot: a conversation whose history re-renders the last answer "
              "(thinking dropped) resumes from where that answer began instead of prefilling everything",
              false, "2")
      .option("api-key", "KEY", "require 'Authorization: Bearer KEY' on /v1/ requests")
      .option("alias", "NAME", "model id to report (requests may name any model; default: the model folder's name)")
      .option("cors", "ORIGIN", "allow browsers on this origin ('*' for any) to call the API (default: no CORS headers)")
      .flag("no-batching", "run every sequence in its own forward pass (for comparisons)")
      .flag("no-webui", "do not serve the chat page at /")
      .flag("quiet", "do not log requests");
  g4::cli::add_ctx_option(args, "context size per sequence, in tokens");
  g4::cli::add_max_tokens_option(args, "default completion budget of a chat request");
  g4::cli::add_kv_type_option(args, g4::KVType::F16);
  g4::cli::add_media_options(args, false, g4::TowerMath::Fast);
  args.option("media-dir", "DIR", "allow image_url file:// URLs of files inside DIR (default: refused)")
      .option("max-media-bytes", "N", "largest image or audio item of a request, in bytes (413 above)", false, "33554432")
      .option("max-media-pixels", "N", "largest decoded image, in pixels (400 above)", false, "50000000")
      .option("max-media-items", "N", "images and audio clips per request (400 above)", false, "16");
  g4::cli::add_sampling_options(args);
  g4::cli::add_draft_options(args);
  g4::cli::add_thread_option(args);
  g4::cli::add_load_option(args);
  if (!args.parse(argc, argv)) return args.exit_code();
  g4::cli::apply_thread_option(args);
  g4::cli::apply_load_option(args);

  g4::server::ServerOptions o;
  o.host = args.get("host");
  long long port = args.get_int("port");
  if (port < 0 || port > 65535) throw g4::Error("--port must be between 0 and 65535");
  o.port = int(port);
  long long parallel = args.get_int("parallel"), queue = args.get_int("queue");
  long long chunk = args.get_int("prefill-chunk");
  if (parallel < 1 || parallel > 256) throw g4::Error("--parallel must be between 1 and 256");
  if (queue < 0 || queue > 100000) throw g4::Error("--queue must be between 0 and 100000");
  if (chunk < 1 || chunk > 8192) throw g4::Error("--prefill-chunk must be between 1 and 8192");
  o.scheduler.parallel = int(parallel);
  o.scheduler.max_queue = int(queue);
  o.scheduler.prefill_chunk = int(chunk);
  o.scheduler.batching = !args.has("no-batching");
  o.scheduler.kv_type = g4::cli::kv_type_from_args(args);
  const long long checkpoints = args.get_int("ctx-checkpoints");
  if (checkpoints < 0 || checkpoints > 64) throw g4::Error("--ctx-checkpoints must be between 0 and 64");
  o.scheduler.checkpoints = int(checkpoints);
  g4::cli::check_draft_options(args);
  g4::RunShape shape;
  shape.chunk = int(chunk);
  shape.kv_types = o.scheduler.kv_type;
  shape.checkpoints = int(checkpoints);
  shape.sequences = int(parallel);
  const long long ctx = g4::cli::context_from_args(args, args.get("model"), shape);
  o.scheduler.ctx = ctx;
  o.default_max_tokens = g4::cli::max_tokens_from_args(args);
  if (args.has("media-dir")) {
    if (!g4::is_directory(args.get("media-dir"))) throw g4::Error("--media-dir " + args.get("media-dir") + " is not a folder");
    o.media.media_dir = args.get("media-dir");
  }
  const long long media_bytes = args.get_int("max-media-bytes"), media_pixels = args.get_int("max-media-pixels"),
                  media_items = args.get_int("max-media-items");
  if (media_bytes < 1 || media_pixels < 1 || media_items < 1 || media_items > 256)
    throw g4::Error("--max-media-bytes and --max-media-pixels must be positive, --max-media-items between 1 and 256");
  o.media.limits.max_bytes = size_t(media_bytes);
  o.media.limits.max_pixels = media_pixels;
  o.media.limits.max_items = int(media_items);
  o.media.max_request_bytes = size_t(media_bytes) * 2;
  o.media.encoding = g4::cli::media_encoding_from_args(args);
  if (args.has("api-key")) o.api_key = args.get("api-key");
  o.defaults = g4::cli::sampling_from_args(args);
  o.fixed_seed = args.has("seed");
  o.log_requests = !args.has("quiet");
  if (args.has("cors")) o.cors_origin = cors_origin_from(args.get("cors"));
  o.webui = !args.has("no-webui");
  const std::string model_path = args.get("model");
  o.model_id = args.has("alias")        ? args.get("alias")
               : args.has("model-name") ? args.get("model-name")  // the repo id it was given as
                                        : default_model_id(model_path);
  o.model_path = model_path;

  // Signals are taken by this thread only (sigwait below); every other thread inherits the mask.
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  g4::cli::check_memory_before_loading(model_path, ctx, int(std::min<long long>(chunk, ctx)), o.scheduler.kv_type,
                                        o.scheduler.checkpoints, o.scheduler.parallel);
  std::shared_ptr<const g4::Model> model = g4::load_model(model_path, g4::cli::mmproj_from_args(args));
  g4::cli::LoadedDrafter draft = g4::cli::load_draft_from_args(args, *model);
  o.scheduler.drafts = draft.drafts();
  o.scheduler.draft_max = draft.draft_max;
  std::shared_ptr<const g4::ChatFormat> chat = g4::cli::load_chat_format(model_path);
  g4::server::ApiServer server(model, chat, o);
  server.start();
  std::printf("gemma4 serve: model '%s' (%s), %d slots x %lld tokens (%s KV), listening on http://%s:%d\n",
              o.model_id.c_str(), model_path.c_str(), o.scheduler.parallel, ctx, g4::kv_types_name(o.scheduler.kv_type).c_str(),
              o.host.find(':') != std::string::npos ? ("[" + o.host + "]").c_str() : o.host.c_str(), server.port());
  std::fflush(stdout);
  if (o.webui) std::fprintf(stderr, "gemma4 serve: chat page at http://%s:%d/\n", o.host.find(':') != std::string::npos ? ("[" + o.host + "]").c_str() : o.host.c_str(), server.port());
  int sig = 0;
  sigwait(&sigs, &sig);
  std::fprintf(stderr, "gemma4 serve: stopping (signal %d); a second signal exits at once\n", sig);
  // Graceful stop: no new connections, open streams end with [DONE], waiting requests get 503, every
  // thread is joined. Meanwhile a second SIGINT/SIGTERM ends the process without waiting.
  std::atomic<bool> stopped{false};
  std::thread second_signal([&] {
    const timespec tick{0, 200 * 1000 * 1000};
    while (!stopped.load()) {
      int s = sigtimedwait(&sigs, nullptr, &tick);
      if (s > 0) {
        std::fprintf(stderr, "gemma4 serve: signal %d again, exiting now\n", s);
        std::_Exit(128 + s);
      }
    }
  });
  server.stop();
  stopped = true;
  second_signal.join();
  std::fprintf(stderr, "gemma4 serve: stopped\n");
  return 0;
}

}  // namespace

G4_COMMAND("serve", "OpenAI-compatible HTTP server with continuous batching", run_serve);
