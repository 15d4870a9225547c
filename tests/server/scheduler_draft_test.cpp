// The server's continuous batching with speculative decoding: several sequences drafting and verifying in
// the same batches give the ids they give without drafts (greedy), with acceptances and rejections, and
// the scheduler's counters (what /metrics reports) count them.
#include <gtest/gtest.h>

#include <random>

#include "core/thread_pool.h"
#include "model/drafter.h"
#include "server/scheduler.h"
#include "test_util.h"

namespace g4::server {
namespace {

[[maybe_unused]] const bool kOneThread = (ThreadPool::set_default_threads(1), true);

// Proposes the continuation of whichever reference the sequence is following, a fraction of it wrong.
class ReferenceDrafts : public DraftSource {
 public:
  std::vector<std::vector<int32_t>> refs;
  double wrong = 0.3;
  std::mt19937 rng{5};
  std::vector<int32_t> propose(const KVCache&, const std::vector<int32_t>& generated, const std::vector<float>& h, int k) override {
    EXPECT_FALSE(h.empty());
    for (const auto& r : refs) {
      if (r.size() < generated.size() || !std::equal(generated.begin(), generated.end(), r.begin())) continue;
      std::vector<int32_t> out;
      for (size_t i = generated.size(); i < r.size() && int(out.size()) < k; ++i)
        out.push_back(std::uniform_real_distribution<double>(0, 1)(rng) < wrong ? (r[i] + 7) % 512 : r[i]);
      return out;
    }
    return {};
  }
};

struct Outcome {
  std::vector<std::vector<int32_t>> ids;
  SchedulerStats stats;
};

Outcome serve(const Model& m, std::shared_ptr<const Tokenizer> tok, const std::vector<std::vector<int32_t>>& prompts,
              DraftSource* drafts) {
  SchedulerOptions o;
  o.parallel = 3;
  o.ctx = 256;
  o.prefill_chunk = 16;  // small chunks: rings of 8 + 15 slots, prompts fed over several steps
  o.kv_type = KVType::F32;
  o.drafts = drafts;
  o.draft_max = drafts ? 4 : 0;
  Scheduler s(m, tok, o);
  std::vector<std::shared_ptr<SeqChannel>> chans;
  for (const auto& p : prompts) {
    SeqRequest r;
    r.prompt = p;
    r.sampling.greedy = true;
    r.stop.eog_ids = {};
    r.stop.max_tokens = 60;
    r.logprobs = 0;  // the ids come back with their log-probabilities
    chans.push_back(s.submit(std::move(r)));
  }
  Outcome out;
  out.ids.resize(prompts.size());
  for (size_t i = 0; i < chans.size(); ++i) {
    bool done = false;
    while (!done) {
      std::vector<SeqEvent> ev;
      chans[i]->wait(ev, std::chrono::milliseconds(200));
      for (const SeqEvent& e : ev) {
        for (const TokenLogprobs& lp : e.logprobs) out.ids[i].push_back(lp.id);
        if (e.done) {
          EXPECT_EQ(e.finish_reason, "length") << e.error;
          done = true;
        }
      }
    }
  }
  s.stop();  // the engine thread is done: its counters are final
  out.stats = s.stats();
  return out;
}

TEST(SchedulerDraft, BatchedDraftingGivesTheSameGreedyIds) {
  auto model = load_model(test::fixture("g4-e4b-assistant") + "/target");
  std::shared_ptr<const Tokenizer> tok = Tokenizer::load_gguf(test::shared_dir() + "/fixtures/tokenizer/gemma4-vocab.gguf");
  std::vector<std::vector<int32_t>> prompts;
  for (int p = 0; p < 5; ++p) {  // five requests on three slots: some wait, some reuse a slot
    std::mt19937 rng{uint32_t(p)};
    std::vector<int32_t> ids{2};
    for (int i = 0; i < 20 + 7 * p; ++i) ids.push_back(int32_t(3 + rng() % 500));
    prompts.push_back(ids);
  }
  const Outcome plain = serve(*model, tok, prompts, nullptr);
  for (const auto& ids : plain.ids) ASSERT_EQ(ids.size(), 60u);
  EXPECT_EQ(plain.stats.drafted_tokens, 0);

  ReferenceDrafts oracle;
  oracle.refs = plain.ids;
  const Outcome spec = serve(*model, tok, prompts, &oracle);
  EXPECT_EQ(spec.ids, plain.ids);
  EXPECT_GT(spec.stats.accepted_tokens, 0);
  EXPECT_LT(spec.stats.accepted_tokens, spec.stats.drafted_tokens);
  EXPECT_LT(spec.stats.forward_passes, plain.stats.forward_passes) << "accepted drafts should save engine steps";
  EXPECT_EQ(spec.stats.generated_tokens, plain.stats.generated_tokens);

  // The real (random) drafter: everything rejected, the same ids.
  auto drafter = load_drafter(test::fixture("g4-e4b-assistant") + "/drafter");
  DrafterSource real(*model, *drafter);
  const Outcome mtp = serve(*model, tok, prompts, &real);
  EXPECT_EQ(mtp.ids, plain.ids);
  EXPECT_GT(mtp.stats.drafted_tokens, 0);
}

}  // namespace
}  // namespace g4::server
