// chat_turns_bench: time to first token of each turn of a multi-turn thinking chat, the way `chat` and
// the server reuse the cached prefix (runtime/SequenceCache), with and without sliding-window
// checkpoints, against prefilling each prompt from scratch.
//
//   build/chat_turns_bench --model FILE.gguf [--turns 5] [--user-tokens 1200] [--answer-tokens 400]
//                          [--first-user-tokens N] [--checkpoints 2] [--kv-type f16] [--threads 2]
//
// Each turn: the prompt (system + history + a new user message of about --user-tokens tokens) is
// prefilled through the cache, then an answer of about --answer-tokens tokens is fed as if generated:
// a thought channel followed by the final text. The next turn's history has that answer as the
// template renders it (the thinking dropped), so the cached tokens and the new prompt part where the
// answer began. --first-user-tokens makes the first message longer (a document, then questions about it). The time to first token is reuse + prefill of the rest + the first logits. Random-weight
// models work: what is timed does not depend on what the model says. Not a test: it prints figures.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "core/thread_pool.h"
#include "model/model.h"
#include "runtime/chat.h"
#include "runtime/sequence_cache.h"

namespace {

double now_s() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

// About n tokens of ordinary words.
std::string words(int n, std::mt19937& rng) {
  static const char* w[] = {"river", "bridge", "stone", "history", "people", "market", "winter", "light", "the", "of",
                            "a", "and", "city", "built", "old", "new", "water", "north", "south", "road"};
  std::string s;
  for (int i = 0; i < n; ++i) {
    s += w[rng() % 20];
    s += (i % 12 == 11) ? ". " : " ";
  }
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  std::string model_path, kv = "f16";
  int turns = 5, user_tokens = 1200, answer_tokens = 400, checkpoints = 2, threads = 0, first_user_tokens = -1;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--model") model_path = v;
    else if (k == "--turns") turns = std::atoi(v.c_str());
    else if (k == "--user-tokens") user_tokens = std::atoi(v.c_str());
    else if (k == "--answer-tokens") answer_tokens = std::atoi(v.c_str());
    else if (k == "--first-user-tokens") first_user_tokens = std::atoi(v.c_str());
    else if (k == "--checkpoints") checkpoints = std::atoi(v.c_str());
    else if (k == "--kv-type") kv = v;
    else if (k == "--threads") threads = std::atoi(v.c_str());
    else {
      std::fprintf(stderr, "unknown option %s\n", k.c_str());
      return 2;
    }
  }
  if (model_path.empty()) {
    std::fprintf(stderr, "usage: chat_turns_bench --model FILE [--turns N] [--user-tokens N] [--answer-tokens N]\n");
    return 2;
  }
  try {
    if (threads > 0) g4::ThreadPool::set_default_threads(threads);
    auto model = g4::load_model(model_path);
    auto format = g4::ChatFormat::load(model_path);
    const g4::KVTypes types = g4::parse_kv_type(kv);
    if (first_user_tokens < 0) first_user_tokens = user_tokens;
    const int64_t ctx = (int64_t(turns) * (user_tokens + answer_tokens) + first_user_tokens) * 2 + 1024;
    g4::SequenceCache seq(model->new_cache(ctx, 512, types, checkpoints));
    std::mt19937 rng(3);
    g4::Json history = g4::Json::array();
    g4::ChatOptions options;
    options.enable_thinking = true;
    std::printf("model %s, %d turns, ~%d user + ~%d answer tokens each (first message ~%d), %s KV, %d checkpoints\n",
                model_path.c_str(), turns, user_tokens, answer_tokens, first_user_tokens, kv.c_str(), checkpoints);
    std::printf("turn  prompt  reused  prefilled  ttft_s  full_prefill_s  ratio\n");
    for (int t = 1; t <= turns; ++t) {
      g4::Json messages = g4::Json::array();
      messages.push_back({{"role", "system"}, {"content", "You are a careful assistant."}});
      for (const g4::Json& m : history) messages.push_back(m);
      const std::string user = words(t == 1 ? first_user_tokens : user_tokens, rng);
      messages.push_back({{"role", "user"}, {"content", user}});
      const std::vector<int32_t> prompt = format->prompt_ids(messages, g4::Json::array(), options);
      // Time to first token, reusing the cache.
      double t0 = now_s();
      const size_t reused = seq.reuse(prompt);
      std::vector<int32_t> rest(prompt.begin() + long(reused), prompt.end());
      model->prefill(seq.cache(), rest);
      seq.appended(rest.data(), rest.size());
      seq.prompt_done();
      const double ttft = now_s() - t0;
      // The same prompt from nothing.
      double full = 0;
      {
        auto fresh = model->new_cache(ctx, 512, types);
        t0 = now_s();
        model->prefill(*fresh, prompt);
        full = now_s() - t0;
      }
      std::printf("%4d  %6zu  %6zu  %9zu  %6.2f  %14.2f  %5.1f %%\n", t, prompt.size(), reused, rest.size(), ttft, full,
                  100.0 * ttft / full);
      std::fflush(stdout);
      // The answer as generated: thinking, then the final text, then the end of the turn.
      const std::string thought = words(answer_tokens * 3 / 4, rng), final_text = words(answer_tokens / 4, rng);
      const std::string generated = "<|channel>thought\n" + thought + "<channel|>" + final_text + "<turn|>";
      const std::vector<int32_t> answer = format->tokenizer().encode(generated, true);
      model->prefill(seq.cache(), answer);  // as if decoded: the cache and its rings advance alike
      seq.appended(answer.data(), answer.size());
      history.push_back({{"role", "user"}, {"content", user}});
      history.push_back({{"role", "assistant"}, {"content", final_text}});
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "chat_turns_bench: %s\n", e.what());
    return 1;
  }
  return 0;
}
