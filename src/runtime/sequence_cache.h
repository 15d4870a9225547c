#pragma once
// A KV cache together with the token ids whose keys and values it holds: the one implementation of
// prefix reuse, shared by chat sessions and the server's slots.
//
// A new prompt keeps the longest prefix it shares with the cached tokens and only the rest is
// prefilled. Sliding-window layers can only give back a chunk's worth of positions from their rings;
// for the usual multi-turn case (the history re-rendered differently from the point where the last
// answer began, e.g. with its thinking removed) the cache takes a checkpoint at the end of every
// prompt, and reuse() returns to the latest checkpoint at or before the shared prefix.
#include <cstdint>
#include <memory>
#include <vector>

#include "model/kv_cache.h"

namespace g4 {

class SequenceCache {
 public:
  explicit SequenceCache(std::unique_ptr<KVCache> cache) : cache_(std::move(cache)) {}

  KVCache& cache() { return *cache_; }
  const KVCache& cache() const { return *cache_; }
  const std::vector<int32_t>& tokens() const { return tokens_; }

  // Tokens `prompt` shares with the cache (what reuse() could keep at best).
  size_t shared_prefix(const std::vector<int32_t>& prompt) const;
  // Rolls the cache back to the longest prefix of `prompt` it can keep (at most prompt.size() - 1
  // tokens, so that at least one token is fed to produce logits) and returns its length; the caller
  // prefills prompt[returned:].
  size_t reuse(const std::vector<int32_t>& prompt);
  // Records tokens just fed through the cache (the model advanced it by the same count).
  void appended(const int32_t* ids, size_t n);
  void appended(int32_t id) { appended(&id, 1); }
  // Rolls back to the first n tokens (speculative decoding drops rejected drafts; at most a chunk).
  void truncate(size_t n) {
    cache_->truncate(int64_t(n));
    tokens_.resize(n);
  }
  // The prompt is in: remember the sliding windows here (see KVCache::checkpoint).
  void prompt_done() { cache_->checkpoint(); }
  void clear();
  // Becomes a copy of `src` (same model and cache settings): the server's n > 1 choices start from one
  // prefill of their shared prompt.
  void copy_from(const SequenceCache& src) {
    cache_->copy_from(*src.cache_);
    tokens_ = src.tokens_;
  }

 private:
  std::unique_ptr<KVCache> cache_;
  std::vector<int32_t> tokens_;
};

}  // namespace g4
