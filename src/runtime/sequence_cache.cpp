#include "runtime/sequence_cache.h"

#include <algorithm>

#include "core/error.h"

namespace g4 {

size_t SequenceCache::shared_prefix(const std::vector<int32_t>& prompt) const {
  const size_t n = std::min(tokens_.size(), prompt.size());
  size_t l = 0;
  while (l < n && tokens_[l] == prompt[l]) ++l;
  return l;
}

size_t SequenceCache::reuse(const std::vector<int32_t>& prompt) {
  const size_t want = prompt.empty() ? 0 : std::min(shared_prefix(prompt), prompt.size() - 1);
  const size_t kept = size_t(cache_->rollback(int64_t(want)));
  tokens_.resize(kept);
  return kept;
}

void SequenceCache::appended(const int32_t* ids, size_t n) {
  tokens_.insert(tokens_.end(), ids, ids + n);
  if (int64_t(tokens_.size()) != cache_->n_past())
    throw Error("internal: the cached token list (" + std::to_string(tokens_.size()) + ") and the KV cache (" +
                std::to_string(cache_->n_past()) + " positions) disagree");
}

void SequenceCache::clear() {
  cache_->clear();
  tokens_.clear();
}

}  // namespace g4
