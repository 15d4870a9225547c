#pragma once
// Internal state of g4::Tokenizer, shared by the loaders (tokenizer_gguf.cpp, tokenizer_hf.cpp) and
// the encoder (bpe.cpp). Not part of the public API.
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "text/tokenizer.h"

namespace g4 {

inline uint64_t tok_hash_bytes(const char* p, size_t n) {
  uint64_t h = 0x9E3779B97F4A7C15ull ^ (n * 0xff51afd7ed558ccdull);
  while (n >= 8) {
    uint64_t v;
    std::memcpy(&v, p, 8);
    h = (h ^ v) * 0xbf58476d1ce4e5b9ull;
    h ^= h >> 29;
    p += 8;
    n -= 8;
  }
  uint64_t v = 0;
  std::memcpy(&v, p, n);
  h = (h ^ v) * 0x94d049bb133111ebull;
  h ^= h >> 31;
  h *= 0xbf58476d1ce4e5b9ull;
  h ^= h >> 29;
  return h;
}

// Merge ranks: (left id, right id) -> (rank, merged id). Open addressing, linear probing.
class MergeTable {
 public:
  struct Slot {
    uint64_t key = ~0ull;
    int32_t rank = 0;
    int32_t merged = 0;
  };
  void reserve(size_t n);
  // Keeps the first (lowest-rank) entry for a pair.
  void insert(int32_t left, int32_t right, int32_t rank, int32_t merged);
  void prefetch(int32_t left, int32_t right) const {
    if (slots_.empty()) return;
    uint64_t key = (uint64_t(uint32_t(left)) << 32) | uint32_t(right);
    __builtin_prefetch(&slots_[size_t((key * 0x9E3779B97F4A7C15ull) >> shift_)]);
  }
  const Slot* find(int32_t left, int32_t right) const {
    if (slots_.empty() || left < 0 || right < 0) return nullptr;
    uint64_t key = (uint64_t(uint32_t(left)) << 32) | uint32_t(right);
    size_t i = size_t((key * 0x9E3779B97F4A7C15ull) >> shift_);
    while (true) {
      const Slot& s = slots_[i];
      if (s.key == key) return &s;
      if (s.key == ~0ull) return nullptr;
      i = (i + 1) & mask_;
    }
  }
  size_t size() const { return size_; }

 private:
  std::vector<Slot> slots_;
  size_t mask_ = 0, size_ = 0;
  int shift_ = 64;
};

// An added/special token matcher: leftmost-longest over a byte trie.
class TokenTrie {
 public:
  void insert(std::string_view text, int32_t id, bool special);
  bool empty() const { return nodes_.size() <= 1; }
  bool has_non_special() const { return non_special_ > 0; }
  // Longest token starting at s[i] (allowed: non-special always, special when parse_special).
  // Returns its byte length (0 when none) and stores its id.
  size_t match(const char* s, size_t n, size_t i, bool parse_special, int32_t* id) const;
  bool may_start(unsigned char c) const { return first_[c]; }

 private:
  struct Node {
    int32_t id = -1;
    bool special = false;
  };
  std::vector<Node> nodes_{Node{}};
  std::unordered_map<uint64_t, int32_t> edges_;  // (node << 8 | byte) -> child
  bool first_[256] = {};
  size_t non_special_ = 0;
};

struct TokenizerImpl {
  std::string source;

  // Vocabulary.
  int32_t n_vocab = 0;
  std::string arena;               // every piece, concatenated
  std::vector<uint32_t> piece_off; // n_vocab + 1 offsets into arena
  std::string out_arena;           // every token's output bytes
  std::vector<uint32_t> out_off;
  std::vector<TokenType> types;

  // piece -> id: open addressing; each slot carries the piece's place and a hash fingerprint so a
  // lookup touches the arena only for the real match.
  struct PieceSlot {
    int32_t id = -1;
    uint32_t fp = 0;
    uint32_t off = 0;
    uint32_t len = 0;
  };
  std::vector<PieceSlot> piece_slots;
  size_t piece_mask = 0;

  MergeTable merges;
  std::vector<int32_t> bmp_ids;  // code point < 0x10000 -> single-character token id, -1 none
  std::unordered_map<uint32_t, int32_t> astral_ids;
  int32_t byte_ids[256];
  int32_t unk_id = -1;
  bool byte_fallback = true;

  // Segmentation (see bpe.cpp): split before "▁" unless the previous character can precede ▁ inside
  // a token; split newline runs from other text when no token mixes them.
  std::vector<uint8_t> joins_space;   // bmp code point -> can be followed by ▁ inside a token
  bool joins_space_astral = false;    // some astral character can
  bool split_newlines = true;
  bool whole_newline_runs = true;     // a newline-only chunk that is a token is emitted whole
  bool add_space_prefix = false;      // prepend ▁ to text (SentencePiece dummy prefix)
  bool strip_leading_space = false;   // decode: drop one leading space (HF Strip decoder)

  TokenTrie specials;

  int32_t bos = -1, eos = -1;
  bool add_bos = false;
  std::vector<int32_t> eog;

  std::string_view piece(int32_t id) const {
    return std::string_view(arena.data() + piece_off[size_t(id)], piece_off[size_t(id) + 1] - piece_off[size_t(id)]);
  }
  std::string_view out(int32_t id) const {
    return std::string_view(out_arena.data() + out_off[size_t(id)], out_off[size_t(id) + 1] - out_off[size_t(id)]);
  }
  int32_t lookup(std::string_view s) const { return lookup_hashed(s, tok_hash_bytes(s.data(), s.size())); }
  int32_t lookup_hashed(std::string_view s, uint64_t h) const {
    if (piece_slots.empty()) return -1;
    const uint32_t fp = uint32_t(h >> 32);
    for (size_t i = size_t(h) & piece_mask;; i = (i + 1) & piece_mask) {
      const PieceSlot& slot = piece_slots[i];
      if (slot.id < 0) return -1;
      if (slot.fp == fp && slot.len == s.size() && std::memcmp(arena.data() + slot.off, s.data(), s.size()) == 0)
        return slot.id;
    }
  }
  void prefetch_slot(uint64_t h) const { __builtin_prefetch(&piece_slots[size_t(h) & piece_mask]); }
  // First slot whose fingerprint and length match (the candidate), or -1 at an empty slot.
  int64_t candidate_slot(size_t len, uint64_t h) const {
    const uint32_t fp = uint32_t(h >> 32);
    for (size_t i = size_t(h) & piece_mask;; i = (i + 1) & piece_mask) {
      const PieceSlot& slot = piece_slots[i];
      if (slot.id < 0) return -1;
      if (slot.fp == fp && slot.len == len) return int64_t(i);
    }
  }

  // --- building (loaders) ---
  // Pieces by id; duplicates resolve to the later id (as llama.cpp does).
  void set_vocab(const std::vector<std::string_view>& pieces, std::vector<TokenType> token_types);
  // Adds merges[i] with rank i, resolving ids in software-pipelined batches (the vocabulary and merge
  // tables are far larger than the caches). Returns the number of merges skipped (parts or result not
  // in the vocabulary).
  size_t add_merges(const std::vector<std::pair<std::string_view, std::string_view>>& merges);
  // SentencePiece BPE: merges derived from scores (higher score merges first).
  void merges_from_scores(const std::vector<float>& scores);
  // Indexes everything; call once after the vocabulary and merges are set.
  void finalize();
  void add_eog(int32_t id);

  // --- encoding (bpe.cpp) ---
  // plain: optional sorted [begin, end) ranges where special tokens are never matched.
  void encode_text(std::string_view text, bool parse_special, std::vector<int32_t>& out,
                   const std::vector<std::pair<size_t, size_t>>* plain = nullptr) const;
  void encode_fragment(std::string_view text, bool prefix_space, std::vector<int32_t>& out) const;
};

}  // namespace g4
