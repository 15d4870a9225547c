// BPE encoding over code points with byte fallback, and the tables it runs on.
//
// Pipeline for one piece of text (between special tokens):
//   1. normalise: every ' ' is U+2581 "▁" (done on the fly, never copied);
//   2. split into newline runs and other runs (when no token mixes '\n' with other characters, so the
//      split cannot change the result), and split other runs before a "▁" that follows a character which
//      never precedes "▁" inside a token (again exact: no merge can cross such a boundary);
//   3. BPE on each segment: repeatedly merge the adjacent pair with the lowest merge rank (leftmost on
//      ties), exactly as Hugging Face tokenizers and llama.cpp do;
//   4. symbols that are not tokens (characters outside the vocabulary, invalid UTF-8) become <0xNN> byte
//      tokens.
#include <algorithm>
#include <climits>
#include <cstdio>
#include <queue>

#include "core/error.h"
#include "text/tokenizer_impl.h"
#include "text/utf8.h"

namespace g4 {

namespace {
// A byte-fallback token "<0xNN>" with exactly two hex digits (sscanf's %X would also accept a sign,
// "<0x-3>", and produce a value far outside a byte).
bool parse_byte_token(std::string_view s, unsigned* value) {
  auto hex = [](char c) {
    return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
  };
  if (s.size() != 6 || s.substr(0, 3) != "<0x" || s[5] != '>') return false;
  const int hi = hex(s[3]), lo = hex(s[4]);
  if (hi < 0 || lo < 0) return false;
  *value = unsigned(hi * 16 + lo);
  return true;
}

// Token text for an error message: printable ASCII as is, other bytes as \xHH.
std::string printable(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c >= 0x20 && c < 0x7f) {
      out += c;
    } else {
      char hx[5];
      std::snprintf(hx, sizeof hx, "\\x%02X", unsigned(static_cast<unsigned char>(c)));
      out += hx;
    }
  }
  return out;
}
}  // namespace

namespace {
constexpr uint32_t kSpaceMark = 0x2581;  // ▁
constexpr uint32_t kInvalid = 0xFFFFFFFFu;
}  // namespace

// ---------------------------------------------------------------------------------------------
// Tables

void MergeTable::reserve(size_t n) {
  size_t cap = 16;
  while (cap < n * 2) cap <<= 1;
  slots_.assign(cap, Slot{});
  mask_ = cap - 1;
  shift_ = 64;
  for (size_t c = cap; c > 1; c >>= 1) --shift_;
  size_ = 0;
}

void MergeTable::insert(int32_t left, int32_t right, int32_t rank, int32_t merged) {
  if (left < 0 || right < 0) return;
  if ((size_ + 1) * 2 > slots_.size()) {
    std::vector<Slot> old = std::move(slots_);
    reserve(std::max<size_t>(16, (size_ + 1) * 2));
    for (const Slot& s : old)
      if (s.key != ~0ull) insert(int32_t(s.key >> 32), int32_t(uint32_t(s.key)), s.rank, s.merged);
  }
  uint64_t key = (uint64_t(uint32_t(left)) << 32) | uint32_t(right);
  size_t i = size_t((key * 0x9E3779B97F4A7C15ull) >> shift_);
  while (true) {
    Slot& s = slots_[i];
    if (s.key == key) return;  // keep the lower rank
    if (s.key == ~0ull) {
      s.key = key;
      s.rank = rank;
      s.merged = merged;
      ++size_;
      return;
    }
    i = (i + 1) & mask_;
  }
}

void TokenTrie::insert(std::string_view text, int32_t id, bool special) {
  if (text.empty()) return;
  int32_t node = 0;
  for (unsigned char c : text) {
    uint64_t key = (uint64_t(uint32_t(node)) << 8) | c;
    auto it = edges_.find(key);
    if (it == edges_.end()) {
      int32_t child = int32_t(nodes_.size());
      nodes_.push_back(Node{});
      edges_.emplace(key, child);
      node = child;
    } else {
      node = it->second;
    }
  }
  if (nodes_[size_t(node)].id >= 0) return;  // the same text twice: keep the first
  if (!special) ++non_special_;
  nodes_[size_t(node)].id = id;
  nodes_[size_t(node)].special = special;
  first_[static_cast<unsigned char>(text[0])] = true;
}

size_t TokenTrie::match(const char* s, size_t n, size_t i, bool parse_special, int32_t* id) const {
  int32_t node = 0;
  size_t best = 0;
  for (size_t k = i; k < n; ++k) {
    auto it = edges_.find((uint64_t(uint32_t(node)) << 8) | static_cast<unsigned char>(s[k]));
    if (it == edges_.end()) break;
    node = it->second;
    const Node& nd = nodes_[size_t(node)];
    if (nd.id >= 0 && (parse_special || !nd.special)) {
      best = k + 1 - i;
      *id = nd.id;
    }
  }
  return best;
}

void TokenizerImpl::set_vocab(const std::vector<std::string_view>& pieces, std::vector<TokenType> token_types) {
  n_vocab = int32_t(pieces.size());
  size_t total = 0;
  for (auto p : pieces) total += p.size();
  if (total >= UINT32_MAX) throw Error("tokenizer '" + source + "': vocabulary strings are too large");
  arena.clear();
  arena.reserve(total);
  piece_off.resize(pieces.size() + 1);
  for (size_t i = 0; i < pieces.size(); ++i) {
    piece_off[i] = uint32_t(arena.size());
    arena.append(pieces[i]);
  }
  piece_off[pieces.size()] = uint32_t(arena.size());
  types = std::move(token_types);
  types.resize(pieces.size(), TokenType::Normal);

  size_t cap = 16;
  while (cap < pieces.size() * 2) cap <<= 1;
  piece_slots.assign(cap, PieceSlot{});
  piece_mask = cap - 1;
  constexpr int32_t kAhead = 16;
  std::vector<uint64_t> hashes(static_cast<size_t>(n_vocab));
  for (int32_t id = 0; id < n_vocab; ++id) {
    std::string_view s = piece(id);
    hashes[size_t(id)] = tok_hash_bytes(s.data(), s.size());
  }
  for (int32_t id = 0; id < n_vocab; ++id) {
    if (id + kAhead < n_vocab) prefetch_slot(hashes[size_t(id + kAhead)]);
    std::string_view s = piece(id);
    uint64_t h = hashes[size_t(id)];
    const uint32_t fp = uint32_t(h >> 32);
    for (size_t i = size_t(h) & piece_mask;; i = (i + 1) & piece_mask) {
      PieceSlot& slot = piece_slots[i];
      if (slot.id < 0) {
        slot = PieceSlot{id, fp, piece_off[size_t(id)], uint32_t(s.size())};
        break;
      }
      if (slot.fp == fp && piece(slot.id) == s) {  // duplicate string: the later id wins
        slot.id = id;
        slot.off = piece_off[size_t(id)];
        break;
      }
    }
  }
}

size_t TokenizerImpl::add_merges(const std::vector<std::pair<std::string_view, std::string_view>>& list) {
  constexpr size_t B = 64;
  struct Item {
    std::string_view part[3];  // left, right, left+right
    uint64_t h[3];
    int64_t cand[3];
    int32_t id[3];
  };
  Item items[B];
  std::string concat;
  size_t skipped = 0;
  merges.reserve(list.size());
  for (size_t base = 0; base < list.size(); base += B) {
    const size_t n = std::min(B, list.size() - base);
    // 1. hash the three strings and prefetch their slots
    concat.clear();
    size_t total = 0;
    for (size_t j = 0; j < n; ++j) total += list[base + j].first.size() + list[base + j].second.size();
    concat.reserve(total);
    for (size_t j = 0; j < n; ++j) {
      const auto& [l, r] = list[base + j];
      size_t at = concat.size();
      concat.append(l).append(r);
      Item& it = items[j];
      it.part[0] = l;
      it.part[1] = r;
      it.part[2] = std::string_view(concat).substr(at, l.size() + r.size());
      for (int k = 0; k < 3; ++k) {
        it.h[k] = tok_hash_bytes(it.part[k].data(), it.part[k].size());
        prefetch_slot(it.h[k]);
      }
    }
    // 2. find fingerprint candidates and prefetch their strings
    for (size_t j = 0; j < n; ++j)
      for (int k = 0; k < 3; ++k) {
        Item& it = items[j];
        it.cand[k] = candidate_slot(it.part[k].size(), it.h[k]);
        if (it.cand[k] >= 0) __builtin_prefetch(arena.data() + piece_slots[size_t(it.cand[k])].off);
      }
    // 3. verify (a fingerprint collision falls back to a full lookup) and prefetch the merge slot
    for (size_t j = 0; j < n; ++j) {
      Item& it = items[j];
      for (int k = 0; k < 3; ++k) {
        if (it.cand[k] < 0) {
          it.id[k] = -1;
          continue;
        }
        const PieceSlot& slot = piece_slots[size_t(it.cand[k])];
        it.id[k] = std::memcmp(arena.data() + slot.off, it.part[k].data(), it.part[k].size()) == 0
                       ? slot.id
                       : lookup_hashed(it.part[k], it.h[k]);
      }
      if (it.id[0] >= 0 && it.id[1] >= 0) merges.prefetch(it.id[0], it.id[1]);
    }
    // 4. insert
    for (size_t j = 0; j < n; ++j) {
      const Item& it = items[j];
      if (it.id[0] < 0 || it.id[1] < 0 || it.id[2] < 0) {
        ++skipped;
        continue;
      }
      merges.insert(it.id[0], it.id[1], int32_t(base + j), it.id[2]);
    }
  }
  return skipped;
}

void TokenizerImpl::merges_from_scores(const std::vector<float>& scores) {
  // SentencePiece BPE merges the adjacent pair whose concatenation is the highest-scoring token. Every
  // token that splits into two tokens yields a merge; rank by score (equal scores share a rank, so the
  // leftmost pair wins, as in SentencePiece and llama.cpp).
  struct Cand {
    float score;
    int32_t l, r, m;
  };
  std::vector<Cand> cands;
  for (int32_t id = 0; id < n_vocab; ++id) {
    if (types[size_t(id)] != TokenType::Normal && types[size_t(id)] != TokenType::UserDefined) continue;
    std::string_view s = piece(id);
    const auto* p = reinterpret_cast<const unsigned char*>(s.data());
    for (size_t i = 0; i < s.size();) {
      uint32_t cp;
      i += utf8::decode(p, s.size(), i, &cp);
      if (i >= s.size()) break;
      int32_t l = lookup(s.substr(0, i)), r = lookup(s.substr(i));
      if (l >= 0 && r >= 0) cands.push_back({scores[size_t(id)], l, r, id});
    }
  }
  std::stable_sort(cands.begin(), cands.end(), [](const Cand& a, const Cand& b) { return a.score > b.score; });
  merges.reserve(cands.size());
  int32_t rank = -1;
  float prev = 0;
  for (size_t i = 0; i < cands.size(); ++i) {
    if (i == 0 || cands[i].score != prev) ++rank;
    prev = cands[i].score;
    merges.insert(cands[i].l, cands[i].r, rank, cands[i].m);
  }
}

void TokenizerImpl::add_eog(int32_t id) {
  if (id < 0 || id >= n_vocab) return;
  if (std::find(eog.begin(), eog.end(), id) == eog.end()) eog.push_back(id);
  std::sort(eog.begin(), eog.end());
}

void TokenizerImpl::finalize() {
  // Single-character tokens, byte tokens, output bytes, and which boundaries BPE can never cross.
  bmp_ids.assign(0x10000, -1);
  astral_ids.clear();
  for (int& b : byte_ids) b = -1;
  joins_space.assign(0x10000, 0);
  joins_space_astral = false;
  bool mixed_newlines = false;
  out_arena.clear();
  out_arena.reserve(arena.size());
  out_off.resize(size_t(n_vocab) + 1);
  for (int32_t id = 0; id < n_vocab; ++id) {
    out_off[size_t(id)] = uint32_t(out_arena.size());
    std::string_view s = piece(id);
    TokenType t = types[size_t(id)];
    if (t == TokenType::Byte) {
      // A byte token stands for one raw byte named by its text; any other text would be read as something
      // it is not (llama.cpp would decode garbage), so the vocabulary is refused naming the token.
      unsigned v = 0;
      if (!parse_byte_token(s, &v)) {
        throw Error("token " + std::to_string(id) + " \"" + printable(s.substr(0, 40)) +
                    "\" is typed as a byte token but its text is not <0xHH> (two hex digits)");
      }
      if (byte_ids[v] < 0) byte_ids[v] = id;
      out_arena += char(v);
      continue;
    }
    const auto* p = reinterpret_cast<const unsigned char*>(s.data());
    uint32_t prev = kInvalid;
    size_t n_cp = 0;
    uint32_t first = kInvalid;
    for (size_t i = 0; i < s.size();) {
      uint32_t cp;
      size_t len = utf8::decode(p, s.size(), i, &cp);
      if (cp == kSpaceMark) out_arena += ' ';
      else out_arena.append(s.substr(i, len));
      if (n_cp == 0) first = cp;
      if (cp == kSpaceMark && prev != kInvalid && prev != kSpaceMark) {
        if (prev < 0x10000) joins_space[prev] = 1;
        else joins_space_astral = true;
      }
      if (prev != kInvalid && ((cp == '\n') != (prev == '\n'))) mixed_newlines = true;
      prev = cp;
      ++n_cp;
      i += len;
    }
    if (n_cp == 1 && first != kInvalid && t != TokenType::Byte) {
      if (first < 0x10000) bmp_ids[first] = lookup(s);
      else astral_ids[first] = lookup(s);
    }
  }
  out_off[size_t(n_vocab)] = uint32_t(out_arena.size());
  // Byte tokens not typed as such (a tokenizer.json has no types): find them by name.
  for (int v = 0; v < 256; ++v) {
    if (byte_ids[v] >= 0) continue;
    char name[8];
    std::snprintf(name, sizeof name, "<0x%02X>", v);
    int32_t id = lookup(name);
    if (id >= 0) {
      byte_ids[v] = id;
      types[size_t(id)] = TokenType::Byte;
      // Fix its output: one raw byte.
      // (Only reached for untyped vocabularies; rebuild the output arena afterwards.)
    }
  }
  split_newlines = !mixed_newlines;
  // Rebuild output bytes if byte tokens were discovered by name above.
  bool rebuild = false;
  for (int v = 0; v < 256 && !rebuild; ++v)
    if (byte_ids[v] >= 0 && out(byte_ids[v]).size() != 1) rebuild = true;
  if (rebuild) {
    std::string rebuilt;
    std::vector<uint32_t> off(size_t(n_vocab) + 1);
    for (int32_t id = 0; id < n_vocab; ++id) {
      off[size_t(id)] = uint32_t(rebuilt.size());
      if (types[size_t(id)] == TokenType::Byte) {
        unsigned v = 0;
        if (parse_byte_token(piece(id), &v)) {
          rebuilt += char(v);
          continue;
        }
      }
      rebuilt.append(out(id));
    }
    off[size_t(n_vocab)] = uint32_t(rebuilt.size());
    out_arena = std::move(rebuilt);
    out_off = std::move(off);
  }
}

// ---------------------------------------------------------------------------------------------
// Encoding

namespace {

struct Sym {
  int32_t id;      // token id, -1 when the unit is not a token (byte fallback)
  uint32_t start;  // byte range in the fragment (for byte fallback)
  uint32_t len;
  bool space;      // a ' ' normalised to ▁
};

struct Scratch {
  std::vector<Sym> syms;
  std::vector<int32_t> ranks, merged;
  // heap path
  std::vector<int32_t> prev, next;
  struct Entry {
    int32_t rank, left, right, lid, rid;
  };
  std::vector<Entry> heap;
};

Scratch& scratch() {
  thread_local Scratch s;
  return s;
}

inline bool entry_after(const Scratch::Entry& a, const Scratch::Entry& b) {
  return a.rank > b.rank || (a.rank == b.rank && a.left > b.left);
}

void emit_symbol(const TokenizerImpl& t, const Sym& s, std::string_view text, std::vector<int32_t>& out) {
  if (s.id >= 0) {
    out.push_back(s.id);
    return;
  }
  std::string_view bytes = s.space ? std::string_view("\xE2\x96\x81") : text.substr(s.start, s.len);
  for (unsigned char b : bytes) {
    int32_t id = t.byte_ids[b];
    if (id < 0) id = t.unk_id;
    if (id >= 0) out.push_back(id);
  }
}

// BPE over syms[0..n); appends the result.
void bpe(const TokenizerImpl& t, Sym* syms, size_t n, std::string_view text, std::vector<int32_t>& out) {
  if (n == 1) {
    emit_symbol(t, syms[0], text, out);
    return;
  }
  Scratch& sc = scratch();
  if (n <= 48) {
    // Small segment: scan for the best pair each round.
    sc.ranks.resize(n);
    sc.merged.resize(n);
    for (size_t i = 0; i + 1 < n; ++i) {
      const MergeTable::Slot* m = (syms[i].id < 0 || syms[i + 1].id < 0) ? nullptr : t.merges.find(syms[i].id, syms[i + 1].id);
      sc.ranks[i] = m ? m->rank : INT_MAX;
      sc.merged[i] = m ? m->merged : -1;
    }
    int32_t* ranks = sc.ranks.data();
    int32_t* merged = sc.merged.data();
    while (n > 1) {
      int32_t best = INT_MAX;
      size_t bi = 0;
      for (size_t i = 0; i + 1 < n; ++i)
        if (ranks[i] < best) {
          best = ranks[i];
          bi = i;
        }
      if (best == INT_MAX) break;
      syms[bi].id = merged[bi];
      syms[bi].len += syms[bi + 1].len;
      for (size_t i = bi + 1; i + 1 < n; ++i) {
        syms[i] = syms[i + 1];
        ranks[i] = ranks[i + 1];
        merged[i] = merged[i + 1];
      }
      --n;
      auto refresh = [&](size_t i) {
        const MergeTable::Slot* m = t.merges.find(syms[i].id, syms[i + 1].id);
        ranks[i] = m ? m->rank : INT_MAX;
        merged[i] = m ? m->merged : -1;
      };
      if (bi > 0) refresh(bi - 1);
      if (bi + 1 < n) refresh(bi);
    }
    for (size_t i = 0; i < n; ++i) emit_symbol(t, syms[i], text, out);
    return;
  }
  // Long segment: linked list + priority queue with lazy invalidation.
  sc.prev.resize(n);
  sc.next.resize(n);
  for (size_t i = 0; i < n; ++i) {
    sc.prev[i] = int32_t(i) - 1;
    sc.next[i] = i + 1 < n ? int32_t(i + 1) : -1;
  }
  auto& heap = sc.heap;
  heap.clear();
  auto push = [&](int32_t l, int32_t r) {
    if (l < 0 || r < 0 || syms[l].id < 0 || syms[r].id < 0) return;
    const MergeTable::Slot* m = t.merges.find(syms[l].id, syms[r].id);
    if (!m) return;
    heap.push_back({m->rank, l, r, syms[l].id, syms[r].id});
    std::push_heap(heap.begin(), heap.end(), entry_after);
  };
  for (size_t i = 0; i + 1 < n; ++i) push(int32_t(i), int32_t(i + 1));
  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), entry_after);
    Scratch::Entry e = heap.back();
    heap.pop_back();
    Sym& L = syms[e.left];
    Sym& R = syms[e.right];
    if (L.len == 0 || R.len == 0 || sc.next[size_t(e.left)] != e.right || L.id != e.lid || R.id != e.rid) continue;
    const MergeTable::Slot* m = t.merges.find(L.id, R.id);
    L.id = m->merged;
    L.len += R.len;
    R.len = 0;
    int32_t nn = sc.next[size_t(e.right)];
    sc.next[size_t(e.left)] = nn;
    if (nn >= 0) sc.prev[size_t(nn)] = e.left;
    push(sc.prev[size_t(e.left)], e.left);
    push(e.left, nn);
  }
  for (int32_t i = 0; i >= 0; i = sc.next[size_t(i)]) emit_symbol(t, syms[i], text, out);
}

}  // namespace

void TokenizerImpl::encode_fragment(std::string_view text, bool prefix_space, std::vector<int32_t>& out) const {
  if (text.empty()) return;
  Scratch& sc = scratch();
  std::vector<Sym>& syms = sc.syms;
  syms.clear();
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  const int32_t space_id = bmp_ids[kSpaceMark];

  // Segments are flushed into BPE as they end; seg_begin indexes syms.
  size_t seg_begin = 0;
  uint32_t prev_cp = kInvalid;
  bool in_newlines = false;
  size_t nl_start = 0;  // byte offset of the current newline run

  auto flush = [&]() {
    if (syms.size() > seg_begin) bpe(*this, syms.data() + seg_begin, syms.size() - seg_begin, text, out);
    syms.clear();
    seg_begin = 0;
  };

  if (prefix_space) {
    syms.push_back(Sym{space_id, 0, 0, true});
    prev_cp = kSpaceMark;
  }
  for (size_t i = 0; i < n;) {
    unsigned c = p[i];
    if (c == '\n' && split_newlines) {
      if (!in_newlines) {
        flush();
        in_newlines = true;
        nl_start = i;
      }
      syms.push_back(Sym{bmp_ids['\n'], uint32_t(i), 1, false});
      prev_cp = '\n';
      ++i;
      continue;
    }
    if (in_newlines) {
      in_newlines = false;
      int32_t whole = whole_newline_runs ? lookup(text.substr(nl_start, i - nl_start)) : -1;
      if (whole >= 0) {
        out.push_back(whole);
        syms.clear();
      } else {
        flush();
      }
      prev_cp = '\n';
    }
    uint32_t cp;
    size_t len;
    if (c < 0x80) {
      cp = c;
      len = 1;
    } else {
      len = utf8::decode(p, n, i, &cp);
    }
    bool space = cp == ' ';
    if (space) cp = kSpaceMark;
    if (cp == kSpaceMark && prev_cp != kSpaceMark && prev_cp != kInvalid) {
      bool joins = prev_cp < 0x10000 ? joins_space[prev_cp] != 0 : joins_space_astral;
      if (!joins) flush();
    }
    int32_t id;
    if (cp < 0x10000) {
      id = bmp_ids[cp];
    } else if (cp == kInvalid) {
      id = -1;
    } else {
      auto it = astral_ids.find(cp);
      id = it == astral_ids.end() ? -1 : it->second;
    }
    syms.push_back(Sym{id, uint32_t(i), uint32_t(space ? 1 : len), space});
    prev_cp = cp;
    i += len;
  }
  if (in_newlines) {
    int32_t whole = whole_newline_runs ? lookup(text.substr(nl_start)) : -1;
    if (whole >= 0) {
      out.push_back(whole);
      syms.clear();
    }
  }
  flush();
}

void TokenizerImpl::encode_text(std::string_view text, bool parse_special, std::vector<int32_t>& out,
                                const std::vector<std::pair<size_t, size_t>>* plain) const {
  if (specials.empty() || (!parse_special && !specials.has_non_special())) {
    encode_fragment(text, add_space_prefix, out);
    return;
  }
  size_t frag = 0;
  const size_t n = text.size();
  size_t next_plain = 0;  // index of the first plain range not yet passed
  for (size_t i = 0; i < n;) {
    size_t limit = n;     // a special token must end before the next plain range
    if (plain) {
      while (next_plain < plain->size() && (*plain)[next_plain].second <= i) ++next_plain;
      if (next_plain < plain->size()) {
        const auto& r = (*plain)[next_plain];
        if (r.first <= i) {  // inside user text: no special tokens here
          i = std::min(r.second, n);
          continue;
        }
        limit = std::min(r.first, n);
      }
    }
    int32_t id;
    size_t len;
    if (specials.may_start(static_cast<unsigned char>(text[i])) &&
        (len = specials.match(text.data(), limit, i, parse_special, &id)) > 0) {
      encode_fragment(text.substr(frag, i - frag), add_space_prefix, out);
      out.push_back(id);
      i += len;
      frag = i;
    } else {
      ++i;
    }
  }
  encode_fragment(text.substr(frag), add_space_prefix, out);
}

}  // namespace g4
