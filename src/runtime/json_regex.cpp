#include "runtime/json_regex.h"

#include <algorithm>
#include <map>
#include <utility>

#include "core/error.h"

namespace g4::jsonc {

namespace {

constexpr uint32_t kMaxCp = 0x10FFFF;
constexpr size_t kMaxNfaStates = 200000;

// ---- code-point sets ----

using Ranges = std::vector<std::pair<uint32_t, uint32_t>>;  // inclusive, sorted, disjoint after norm

void normalize(Ranges& r) {
  std::sort(r.begin(), r.end());
  Ranges out;
  for (const auto& x : r) {
    if (!out.empty() && x.first <= out.back().second + 1) out.back().second = std::max(out.back().second, x.second);
    else out.push_back(x);
  }
  r = std::move(out);
}

Ranges complement(Ranges r) {
  normalize(r);
  Ranges out;
  uint32_t next = 0;
  for (const auto& x : r) {
    if (x.first > next) out.push_back({next, x.first - 1});
    next = x.second + 1;
  }
  if (next <= kMaxCp) out.push_back({next, kMaxCp});
  return out;
}

Ranges digit_set() { return {{'0', '9'}}; }
Ranges word_set() { return {{'0', '9'}, {'A', 'Z'}, {'_', '_'}, {'a', 'z'}}; }
Ranges space_set() {  // ECMA-262 WhiteSpace and LineTerminator
  return {{0x09, 0x0D}, {0x20, 0x20}, {0xA0, 0xA0}, {0x1680, 0x1680}, {0x2000, 0x200A}, {0x2028, 0x2029},
          {0x202F, 0x202F}, {0x205F, 0x205F}, {0x3000, 0x3000}, {0xFEFF, 0xFEFF}};
}
Ranges dot_set() { return complement({{'\n', '\n'}, {'\r', '\r'}, {0x2028, 0x2029}}); }
Ranges all_set() { return {{0, kMaxCp}}; }

// ---- regex syntax tree ----

struct Re {
  enum Kind { Set, Cat, Alt, Rep, Eps } kind = Eps;
  Ranges set;
  std::vector<int> kids;
  int min = 0, max = -1;  // Rep; max < 0: unbounded
};

class Parser {
 public:
  Parser(std::string_view p, std::vector<Re>& nodes) : p_(p), nodes_(nodes) {}

  // The top level: alternatives, each with its own ^ / $.
  int parse_top(bool implied_anchors) {
    std::vector<int> alts;
    for (;;) {
      bool a_start = implied_anchors, a_end = implied_anchors;
      if (peek('^')) {
        ++i_;
        a_start = true;
      }
      int body = parse_concat(0, &a_end);
      std::vector<int> parts;
      if (!a_start) parts.push_back(any_star());
      parts.push_back(body);
      if (!a_end) parts.push_back(any_star());
      alts.push_back(cat(std::move(parts)));
      if (i_ >= p_.size()) break;
      if (p_[i_] == '|') {
        ++i_;
        continue;
      }
      fail("unbalanced ')'");
    }
    return alts.size() == 1 ? alts[0] : alt(std::move(alts));
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw Error("pattern \"" + std::string(p_.substr(0, 200)) + "\": " + what + " at offset " + std::to_string(i_));
  }
  bool peek(char c) const { return i_ < p_.size() && p_[i_] == c; }

  int add(Re r) {
    if (nodes_.size() > 100000) fail("the pattern is too large");
    nodes_.push_back(std::move(r));
    return int(nodes_.size() - 1);
  }
  int set(Ranges r) {
    Re n;
    n.kind = Re::Set;
    normalize(r);
    n.set = std::move(r);
    return add(std::move(n));
  }
  int cat(std::vector<int> kids) {
    Re n;
    n.kind = Re::Cat;
    n.kids = std::move(kids);
    return add(std::move(n));
  }
  int alt(std::vector<int> kids) {
    Re n;
    n.kind = Re::Alt;
    n.kids = std::move(kids);
    return add(std::move(n));
  }
  int any_star() {
    Re n;
    n.kind = Re::Rep;
    n.kids = {set(all_set())};
    n.min = 0;
    n.max = -1;
    return add(std::move(n));
  }

  // Alternatives inside a group (depth > 0) or one top-level alternative (depth 0, which stops at
  // '|' and records a final '$').
  int parse_alt(int depth) {
    std::vector<int> alts;
    for (;;) {
      alts.push_back(parse_concat(depth, nullptr));
      if (peek('|')) {
        ++i_;
        continue;
      }
      break;
    }
    return alts.size() == 1 ? alts[0] : alt(std::move(alts));
  }

  int parse_concat(int depth, bool* anchored_end) {
    std::vector<int> items;
    while (i_ < p_.size()) {
      char c = p_[i_];
      if (c == '|') break;
      if (c == ')') {
        if (depth == 0) fail("unbalanced ')'");
        break;
      }
      if (c == '$') {
        if (depth == 0 && (i_ + 1 == p_.size() || p_[i_ + 1] == '|')) {
          ++i_;
          *anchored_end = true;
          break;
        }
        fail("'$' is supported only at the end of the pattern or of a top-level alternative");
      }
      if (c == '^') fail("'^' is supported only at the start of the pattern or of a top-level alternative");
      int atom = parse_atom(depth);
      items.push_back(parse_quantifiers(atom));
    }
    if (items.empty()) return add(Re{});
    return items.size() == 1 ? items[0] : cat(std::move(items));
  }

  int parse_quantifiers(int atom) {
    for (;;) {
      if (i_ >= p_.size()) return atom;
      char c = p_[i_];
      int lo, hi;
      if (c == '*') lo = 0, hi = -1, ++i_;
      else if (c == '+') lo = 1, hi = -1, ++i_;
      else if (c == '?') lo = 0, hi = 1, ++i_;
      else if (c == '{') {
        size_t save = i_;
        ++i_;
        lo = parse_int();
        if (lo < 0) {
          i_ = save;
          fail("'{' must start a quantifier {n}, {n,} or {n,m} (write \\{ for the character)");
        }
        hi = lo;
        if (peek(',')) {
          ++i_;
          hi = peek('}') ? -1 : parse_int();
          if (hi == -2 || (hi >= 0 && hi < lo)) fail("bad quantifier bounds");
        }
        if (!peek('}')) fail("unterminated quantifier");
        ++i_;
        if (lo > 1000 || hi > 1000) fail("quantifier bounds above 1000 are not supported");
      } else {
        return atom;
      }
      if (peek('?')) ++i_;  // lazy: the same language
      Re n;
      n.kind = Re::Rep;
      n.kids = {atom};
      n.min = lo;
      n.max = hi;
      atom = add(std::move(n));
    }
  }

  // -1: no digits; -2: too large
  int parse_int() {
    size_t start = i_;
    long v = 0;
    while (i_ < p_.size() && p_[i_] >= '0' && p_[i_] <= '9') {
      v = v * 10 + (p_[i_] - '0');
      if (v > 100000) return -2;
      ++i_;
    }
    return i_ == start ? -1 : int(v);
  }

  uint32_t read_utf8() {
    unsigned char c = uint8_t(p_[i_]);
    int n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (n == 0 || i_ + size_t(n) > p_.size()) fail("invalid UTF-8");
    uint32_t cp = n == 1 ? c : n == 2 ? (c & 0x1F) : n == 3 ? (c & 0x0F) : (c & 0x07);
    for (int k = 1; k < n; ++k) {
      unsigned char d = uint8_t(p_[i_ + size_t(k)]);
      if ((d & 0xC0) != 0x80) fail("invalid UTF-8");
      cp = (cp << 6) | (d & 0x3F);
    }
    i_ += size_t(n);
    return cp;
  }

  uint32_t hex(int digits) {
    uint32_t v = 0;
    for (int k = 0; k < digits; ++k) {
      if (i_ >= p_.size()) fail("truncated escape");
      char c = p_[i_];
      int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
      if (d < 0) fail("bad hexadecimal escape");
      v = v * 16 + uint32_t(d);
      ++i_;
    }
    return v;
  }

  // After a backslash. Returns a set for class escapes (\d ...), else one code point in *cp.
  bool parse_escape(bool in_class, Ranges* set, uint32_t* cp) {
    if (i_ >= p_.size()) fail("a pattern cannot end with '\\'");
    char c = p_[i_++];
    switch (c) {
      case 'd': *set = digit_set(); return true;
      case 'D': *set = complement(digit_set()); return true;
      case 'w': *set = word_set(); return true;
      case 'W': *set = complement(word_set()); return true;
      case 's': *set = space_set(); return true;
      case 'S': *set = complement(space_set()); return true;
      case 't': *cp = '\t'; return false;
      case 'n': *cp = '\n'; return false;
      case 'r': *cp = '\r'; return false;
      case 'f': *cp = '\f'; return false;
      case 'v': *cp = '\v'; return false;
      case '0':
        if (i_ < p_.size() && p_[i_] >= '0' && p_[i_] <= '9') fail("octal escapes are not supported");
        *cp = 0;
        return false;
      case 'x': *cp = hex(2); return false;
      case 'u':
        if (peek('{')) {
          ++i_;
          uint32_t v = 0;
          size_t start = i_;
          while (i_ < p_.size() && p_[i_] != '}') {
            v = v * 16 + hex(1);
            if (v > kMaxCp) fail("code point out of range");
          }
          if (i_ == start || !peek('}')) fail("bad \\u{...} escape");
          ++i_;
          *cp = v;
        } else {
          *cp = hex(4);
        }
        if (*cp >= 0xD800 && *cp <= 0xDFFF) fail("surrogate code points are not supported");
        return false;
      case 'b':
        if (in_class) {
          *cp = '\b';
          return false;
        }
        fail("word boundaries (\\b) are not supported");
      case 'B': fail("word boundaries (\\B) are not supported");
      case 'p': case 'P': fail("Unicode property escapes (\\p{...}) are not supported");
      case 'c': fail("control escapes (\\cX) are not supported");
      case 'k': fail("named backreferences are not supported");
      default:
        if (c >= '1' && c <= '9') fail("backreferences are not supported");
        if (std::string_view("^$\\.*+?()[]{}|/-").find(c) != std::string_view::npos) {
          *cp = uint8_t(c);
          return false;
        }
        --i_;
        fail(std::string("unknown escape \\") + c);
    }
  }

  int parse_class() {  // after '['
    bool negate = false;
    if (peek('^')) {
      negate = true;
      ++i_;
    }
    Ranges r;
    bool first = true;
    for (;;) {
      if (i_ >= p_.size()) fail("unterminated character class");
      if (p_[i_] == ']' && !first) {
        ++i_;
        break;
      }
      if (p_[i_] == ']' && first) fail("an empty class [] matches nothing");
      first = false;
      uint32_t lo;
      Ranges esc;
      if (p_[i_] == '\\') {
        ++i_;
        if (parse_escape(true, &esc, &lo)) {
          r.insert(r.end(), esc.begin(), esc.end());
          if (peek('-') && i_ + 1 < p_.size() && p_[i_ + 1] != ']') fail("a class escape cannot start a range");
          continue;
        }
      } else {
        lo = read_utf8();
      }
      uint32_t hi = lo;
      if (peek('-') && i_ + 1 < p_.size() && p_[i_ + 1] != ']') {
        ++i_;
        if (p_[i_] == '\\') {
          ++i_;
          if (parse_escape(true, &esc, &hi)) fail("a class escape cannot end a range");
        } else {
          hi = read_utf8();
        }
        if (hi < lo) fail("range out of order in character class");
      }
      r.push_back({lo, hi});
    }
    if (negate) r = complement(r);
    return set(std::move(r));
  }

  int parse_atom(int depth) {
    char c = p_[i_];
    if (c == '(') {
      ++i_;
      if (peek('?')) {
        ++i_;
        if (peek(':')) {
          ++i_;
        } else if (peek('<') && i_ + 1 < p_.size() && p_[i_ + 1] != '=' && p_[i_ + 1] != '!') {
          while (i_ < p_.size() && p_[i_] != '>') ++i_;
          if (!peek('>')) fail("unterminated group name");
          ++i_;
        } else {
          fail("lookaround and inline flags are not supported");
        }
      }
      if (depth > 100) fail("groups nested too deeply");
      int inner = parse_alt(depth + 1);
      if (!peek(')')) fail("missing ')'");
      ++i_;
      return inner;
    }
    if (c == '[') {
      ++i_;
      return parse_class();
    }
    if (c == '.') {
      ++i_;
      return set(dot_set());
    }
    if (c == '*' || c == '+' || c == '?') fail("nothing to repeat");
    if (c == '{') fail("'{' must follow something to repeat (write \\{ for the character)");
    if (c == '\\') {
      ++i_;
      Ranges s;
      uint32_t cp;
      if (parse_escape(false, &s, &cp)) return set(std::move(s));
      return set({{cp, cp}});
    }
    uint32_t cp = read_utf8();
    return set({{cp, cp}});
  }

  std::string_view p_;
  size_t i_ = 0;
  std::vector<Re>& nodes_;
};

// ---- NFA over bytes ----

struct Nfa {
  struct Edge {
    uint8_t lo, hi;
    int to;
  };
  std::vector<std::vector<Edge>> edges;
  std::vector<std::vector<int>> eps;
  int add() {
    if (edges.size() >= kMaxNfaStates) throw Error("the pattern is too large (too many automaton states)");
    edges.emplace_back();
    eps.emplace_back();
    return int(edges.size() - 1);
  }
};

struct Frag {
  int start, end;
};

using ByteSeq = std::vector<std::pair<uint8_t, uint8_t>>;

void encode_utf8(uint32_t cp, int n, uint8_t* out) {
  if (n == 1) {
    out[0] = uint8_t(cp);
    return;
  }
  for (int k = n - 1; k > 0; --k) {
    out[k] = uint8_t(0x80 | (cp & 0x3F));
    cp >>= 6;
  }
  out[0] = uint8_t((n == 2 ? 0xC0 : n == 3 ? 0xE0 : 0xF0) | cp);
}

// Splits [lo, hi] (same encoded length n) into ranges that are products of byte ranges.
void split_utf8(uint32_t lo, uint32_t hi, int n, std::vector<ByteSeq>& out) {
  for (int i = 1; i < n; ++i) {
    uint32_t m = (uint32_t(1) << (6 * i)) - 1;
    if ((lo & ~m) != (hi & ~m)) {
      if ((lo & m) != 0) {
        split_utf8(lo, lo | m, n, out);
        split_utf8((lo | m) + 1, hi, n, out);
        return;
      }
      if ((hi & m) != m) {
        split_utf8(lo, (hi & ~m) - 1, n, out);
        split_utf8(hi & ~m, hi, n, out);
        return;
      }
    }
  }
  uint8_t a[4], b[4];
  encode_utf8(lo, n, a);
  encode_utf8(hi, n, b);
  ByteSeq s;
  for (int k = 0; k < n; ++k) s.push_back({a[k], b[k]});
  out.push_back(std::move(s));
}

void utf8_sequences(uint32_t lo, uint32_t hi, std::vector<ByteSeq>& out) {
  static const uint32_t bounds[4][2] = {{0, 0x7F}, {0x80, 0x7FF}, {0x800, 0xFFFF}, {0x10000, kMaxCp}};
  for (int n = 1; n <= 4; ++n) {
    uint32_t a = std::max(lo, bounds[n - 1][0]), b = std::min(hi, bounds[n - 1][1]);
    if (a > b) continue;
    if (n == 3) {  // no surrogates
      if (a < 0xD800) split_utf8(a, std::min<uint32_t>(b, 0xD7FF), 3, out);
      if (b > 0xDFFF) split_utf8(std::max<uint32_t>(a, 0xE000), b, 3, out);
    } else {
      split_utf8(a, b, n, out);
    }
  }
}

class NfaBuilder {
 public:
  NfaBuilder(const std::vector<Re>& nodes, Nfa& nfa) : nodes_(nodes), nfa_(nfa) {}

  Frag build(int id) {
    const Re& r = nodes_[size_t(id)];
    switch (r.kind) {
      case Re::Eps: {
        int s = nfa_.add();
        return {s, s};
      }
      case Re::Set: {
        int s = nfa_.add(), e = nfa_.add();
        std::vector<ByteSeq> seqs;
        for (const auto& [lo, hi] : r.set) utf8_sequences(lo, hi, seqs);
        for (const ByteSeq& seq : seqs) {
          int cur = s;
          for (size_t k = 0; k < seq.size(); ++k) {
            int to = k + 1 == seq.size() ? e : nfa_.add();
            nfa_.edges[size_t(cur)].push_back({seq[k].first, seq[k].second, to});
            cur = to;
          }
        }
        return {s, e};
      }
      case Re::Cat: {
        Frag f = build(r.kids[0]);
        for (size_t k = 1; k < r.kids.size(); ++k) {
          Frag g = build(r.kids[k]);
          nfa_.eps[size_t(f.end)].push_back(g.start);
          f.end = g.end;
        }
        return f;
      }
      case Re::Alt: {
        int s = nfa_.add(), e = nfa_.add();
        for (int k : r.kids) {
          Frag g = build(k);
          nfa_.eps[size_t(s)].push_back(g.start);
          nfa_.eps[size_t(g.end)].push_back(e);
        }
        return {s, e};
      }
      case Re::Rep: {
        int s = nfa_.add();
        Frag f{s, s};
        for (int k = 0; k < r.min; ++k) {
          Frag g = build(r.kids[0]);
          nfa_.eps[size_t(f.end)].push_back(g.start);
          f.end = g.end;
        }
        if (r.max < 0) {
          int loop = nfa_.add();
          Frag g = build(r.kids[0]);
          nfa_.eps[size_t(f.end)].push_back(loop);
          nfa_.eps[size_t(loop)].push_back(g.start);
          nfa_.eps[size_t(g.end)].push_back(loop);
          f.end = loop;
        } else if (r.max > r.min) {
          int e = nfa_.add();
          for (int k = r.min; k < r.max; ++k) {
            nfa_.eps[size_t(f.end)].push_back(e);
            Frag g = build(r.kids[0]);
            nfa_.eps[size_t(f.end)].push_back(g.start);
            f.end = g.end;
          }
          nfa_.eps[size_t(f.end)].push_back(e);
          f.end = e;
        }
        return f;
      }
    }
    throw Error("internal: bad regex node");
  }

 private:
  const std::vector<Re>& nodes_;
  Nfa& nfa_;
};

void check_limits(size_t states, size_t cols, const DfaLimits& limits) {
  if (states > limits.max_states || states * cols > limits.max_entries)
    throw Error("the automaton for this string constraint is too large (" + std::to_string(states) +
                " states); simplify the pattern or lower maxLength");
}

ByteDfa determinize(const Nfa& nfa, int start, int accept, const DfaLimits& limits) {
  ByteDfa d;
  bool cut[257] = {};
  cut[0] = true;
  for (const auto& es : nfa.edges)
    for (const auto& e : es) {
      cut[e.lo] = true;
      cut[size_t(e.hi) + 1] = true;
    }
  std::vector<uint8_t> rep;
  int c = -1;
  for (int b = 0; b < 256; ++b) {
    if (cut[b]) {
      ++c;
      rep.push_back(uint8_t(b));
    }
    d.cls[size_t(b)] = uint8_t(c);
  }
  d.n_cls = c + 1;

  std::vector<uint8_t> mark(nfa.edges.size(), 0);
  auto closure = [&](std::vector<int> set) {
    std::vector<int> stack = set, out;
    for (int s : set) mark[size_t(s)] = 1;
    while (!stack.empty()) {
      int s = stack.back();
      stack.pop_back();
      out.push_back(s);
      for (int t : nfa.eps[size_t(s)])
        if (!mark[size_t(t)]) {
          mark[size_t(t)] = 1;
          stack.push_back(t);
        }
    }
    for (int s : out) mark[size_t(s)] = 0;
    std::sort(out.begin(), out.end());
    return out;
  };

  std::map<std::vector<int>, int32_t> ids;
  std::vector<std::vector<int>> sets;
  auto intern = [&](std::vector<int> s) -> int32_t {
    auto it = ids.find(s);
    if (it != ids.end()) return it->second;
    int32_t id = int32_t(sets.size());
    check_limits(sets.size() + 1, size_t(d.n_cls), limits);
    ids.emplace(s, id);
    sets.push_back(std::move(s));
    return id;
  };
  d.start = intern(closure({start}));
  for (size_t i = 0; i < sets.size(); ++i) {
    d.accept.push_back(std::binary_search(sets[i].begin(), sets[i].end(), accept));
    for (int col = 0; col < d.n_cls; ++col) {
      const uint8_t b = rep[size_t(col)];
      std::vector<int> moved;
      for (int s : sets[i])
        for (const auto& e : nfa.edges[size_t(s)])
          if (e.lo <= b && b <= e.hi) moved.push_back(e.to);
      int32_t to = -1;
      if (!moved.empty()) {
        std::sort(moved.begin(), moved.end());
        moved.erase(std::unique(moved.begin(), moved.end()), moved.end());
        to = intern(closure(std::move(moved)));
      }
      d.next.push_back(to);
    }
  }
  trim(d);
  minimize(d);
  return d;
}

ByteDfa compile(std::string_view pattern, bool anchored, const DfaLimits& limits) {
  std::vector<Re> nodes;
  Parser p(pattern, nodes);
  int root = p.parse_top(anchored);
  Nfa nfa;
  NfaBuilder b(nodes, nfa);
  Frag f = b.build(root);
  return determinize(nfa, f.start, f.end, limits);
}

}  // namespace

int32_t ByteDfa::run(std::string_view bytes) const {
  if (empty()) return -1;
  int32_t s = start;
  for (char c : bytes) {
    s = step(s, uint8_t(c));
    if (s < 0) return -1;
  }
  return s;
}

ByteDfa compile_regex(std::string_view pattern, const DfaLimits& limits) { return compile(pattern, false, limits); }

ByteDfa compile_anchored_regex(std::string_view pattern, const DfaLimits& limits) {
  return compile(pattern, true, limits);
}

std::string format_regex(std::string_view format) {
  static const std::string year = R"(([1-9]\d{3}|0[1-9]\d\d|00[1-9]\d|000[1-9]))";
  static const std::string leap_year = R"((\d\d(0[48]|[2468][048]|[13579][26])|(0[48]|[2468][048]|[13579][26])00))";
  static const std::string month_day =
      R"(((0[1-9]|1[0-2])-(0[1-9]|1\d|2[0-8])|(0[13-9]|1[0-2])-(29|30)|(0[13578]|1[02])-31))";
  static const std::string date = "(" + year + "-" + month_day + "|" + leap_year + "-02-29)";
  static const std::string time = R"(([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d{1,9})?(Z|[+-]([01]\d|2[0-3]):[0-5]\d))";
  static const std::string atext = R"([A-Za-z0-9!#$%&'*+/=?^_`{|}~-])";
  static const std::string label = R"([A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)";
  static const std::string tld = R"([A-Za-z]([A-Za-z0-9-]*[A-Za-z0-9])?)";
  static const std::string octet = R"((25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d))";
  if (format == "date") return date;
  if (format == "time") return time;
  if (format == "date-time") return date + "T" + time;
  if (format == "uuid") return R"([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})";
  if (format == "email") return atext + "+(\\." + atext + "+)*@(" + label + "\\.)+" + tld;
  if (format == "ipv4") return "(" + octet + "\\.){3}" + octet;
  return "";
}

ByteDfa any_utf8() { return compile_anchored_regex("[\\s\\S]*"); }

ByteDfa exclude_words(const std::vector<std::string>& words) {
  // Aho-Corasick automaton; reaching the end of a word rejects.
  struct TNode {
    std::array<int32_t, 256> go;
    int32_t fail = 0;
    bool end = false;
  };
  std::vector<TNode> t(1);
  t[0].go.fill(-1);
  for (const std::string& w : words) {
    check(!w.empty(), "exclude_words: empty word");
    int32_t cur = 0;
    for (unsigned char c : w) {
      if (t[size_t(cur)].go[c] < 0) {
        t[size_t(cur)].go[c] = int32_t(t.size());
        t.emplace_back();
        t.back().go.fill(-1);
      }
      cur = t[size_t(cur)].go[c];
    }
    t[size_t(cur)].end = true;
  }
  std::vector<int32_t> queue;
  for (int c = 0; c < 256; ++c) {
    int32_t& g = t[0].go[size_t(c)];
    if (g < 0) g = 0;
    else {
      t[size_t(g)].fail = 0;
      queue.push_back(g);
    }
  }
  for (size_t qi = 0; qi < queue.size(); ++qi) {
    int32_t u = queue[qi];
    t[size_t(u)].end = t[size_t(u)].end || t[size_t(t[size_t(u)].fail)].end;
    for (int c = 0; c < 256; ++c) {
      int32_t& g = t[size_t(u)].go[size_t(c)];
      int32_t via_fail = t[size_t(t[size_t(u)].fail)].go[size_t(c)];
      if (g < 0) g = via_fail;
      else {
        t[size_t(g)].fail = via_fail;
        queue.push_back(g);
      }
    }
  }
  ByteDfa d;
  // columns: one per byte that occurs in a word, one for all others
  bool used[256] = {};
  for (const std::string& w : words)
    for (unsigned char c : w) used[c] = true;
  int n = 1;
  uint8_t rep[256];
  rep[0] = 0;
  int other = -1;
  for (int b = 0; b < 256; ++b) {
    if (used[b]) {
      d.cls[size_t(b)] = uint8_t(n);
      rep[n++] = uint8_t(b);
    } else {
      d.cls[size_t(b)] = 0;
      if (other < 0) other = b;
    }
  }
  rep[0] = uint8_t(other < 0 ? 0 : other);
  d.n_cls = n;
  std::vector<int32_t> id(t.size(), -1);
  int32_t k = 0;
  for (size_t i = 0; i < t.size(); ++i)
    if (!t[i].end) id[i] = k++;
  d.accept.assign(size_t(k), 1);
  d.next.assign(size_t(k) * size_t(n), -1);
  for (size_t i = 0; i < t.size(); ++i) {
    if (id[i] < 0) continue;
    for (int col = 0; col < n; ++col) {
      if (col == 0 && other < 0) continue;
      int32_t to = t[i].go[rep[col]];
      d.next[size_t(id[i]) * size_t(n) + size_t(col)] = id[size_t(to)];
    }
  }
  d.start = 0;
  return d;
}

namespace {

// Product construction; `col_of(byte)` gives the second machine's column, `step2(state, col)` its move.
template <typename Step2, typename Accept2>
ByteDfa product(const ByteDfa& a, const std::array<uint8_t, 256>& b_cls, int32_t b_start, Step2 step2,
                Accept2 accept2, const DfaLimits& limits) {
  ByteDfa d;
  if (a.empty()) return d;
  std::map<std::pair<int, int>, int> colmap;
  std::vector<uint8_t> rep;
  for (int b = 0; b < 256; ++b) {
    auto key = std::make_pair(int(a.cls[size_t(b)]), int(b_cls[size_t(b)]));
    auto it = colmap.find(key);
    if (it == colmap.end()) {
      it = colmap.emplace(key, int(rep.size())).first;
      rep.push_back(uint8_t(b));
    }
    d.cls[size_t(b)] = uint8_t(it->second);
  }
  d.n_cls = int(rep.size());
  std::map<std::pair<int32_t, int32_t>, int32_t> ids;
  std::vector<std::pair<int32_t, int32_t>> states;
  auto intern = [&](int32_t x, int32_t y) {
    auto key = std::make_pair(x, y);
    auto it = ids.find(key);
    if (it != ids.end()) return it->second;
    check_limits(states.size() + 1, size_t(d.n_cls), limits);
    int32_t id = int32_t(states.size());
    ids.emplace(key, id);
    states.push_back(key);
    return id;
  };
  d.start = intern(a.start, b_start);
  for (size_t i = 0; i < states.size(); ++i) {
    auto [x, y] = states[i];
    d.accept.push_back(a.accepting(x) && accept2(y));
    for (int col = 0; col < d.n_cls; ++col) {
      const uint8_t byte = rep[size_t(col)];
      int32_t nx = a.step(x, byte);
      int32_t ny = nx < 0 ? -1 : step2(y, byte);
      d.next.push_back(nx < 0 || ny < 0 ? -1 : intern(nx, ny));
    }
  }
  trim(d);
  minimize(d);
  return d;
}

}  // namespace

ByteDfa intersect(const ByteDfa& a, const ByteDfa& b, const DfaLimits& limits) {
  if (b.empty()) return ByteDfa{};
  return product(
      a, b.cls, b.start, [&](int32_t y, uint8_t byte) { return b.step(y, byte); },
      [&](int32_t y) { return b.accepting(y); }, limits);
}

ByteDfa limit_length(const ByteDfa& a, int64_t min_chars, int64_t max_chars, const DfaLimits& limits) {
  const int64_t cap = max_chars >= 0 ? max_chars : min_chars;
  if (cap + 1 > int64_t(limits.max_states)) check_limits(size_t(cap) + 1, 1, limits);
  std::array<uint8_t, 256> cont{};
  for (int b = 0x80; b < 0xC0; ++b) cont[size_t(b)] = 1;
  return product(
      a, cont, 0,
      [&](int32_t n, uint8_t byte) -> int32_t {
        if ((byte & 0xC0) == 0x80) return n;
        if (max_chars >= 0) return n + 1 > max_chars ? -1 : n + 1;
        return int32_t(std::min<int64_t>(n + 1, cap));
      },
      [&](int32_t n) { return n >= min_chars; }, limits);
}

void trim(ByteDfa& d) {
  const int32_t n = d.size();
  if (n == 0) return;
  std::vector<uint8_t> fwd(size_t(n), 0), back(size_t(n), 0);
  std::vector<int32_t> stack = {d.start};
  fwd[size_t(d.start)] = 1;
  std::vector<std::vector<int32_t>> rev(static_cast<size_t>(n));
  while (!stack.empty()) {
    int32_t s = stack.back();
    stack.pop_back();
    for (int c = 0; c < d.n_cls; ++c) {
      int32_t t = d.next[size_t(s) * size_t(d.n_cls) + size_t(c)];
      if (t < 0) continue;
      rev[size_t(t)].push_back(s);
      if (!fwd[size_t(t)]) {
        fwd[size_t(t)] = 1;
        stack.push_back(t);
      }
    }
  }
  for (int32_t s = 0; s < n; ++s)
    if (fwd[size_t(s)] && d.accept[size_t(s)]) {
      back[size_t(s)] = 1;
      stack.push_back(s);
    }
  while (!stack.empty()) {
    int32_t s = stack.back();
    stack.pop_back();
    for (int32_t p : rev[size_t(s)])
      if (!back[size_t(p)]) {
        back[size_t(p)] = 1;
        stack.push_back(p);
      }
  }
  if (!back[size_t(d.start)]) {
    d.accept.clear();
    d.next.clear();
    d.start = 0;
    return;
  }
  std::vector<int32_t> id(size_t(n), -1);
  int32_t k = 0;
  for (int32_t s = 0; s < n; ++s)
    if (fwd[size_t(s)] && back[size_t(s)]) id[size_t(s)] = k++;
  ByteDfa out;
  out.cls = d.cls;
  out.n_cls = d.n_cls;
  out.start = id[size_t(d.start)];
  out.accept.resize(size_t(k));
  out.next.assign(size_t(k) * size_t(d.n_cls), -1);
  for (int32_t s = 0; s < n; ++s) {
    if (id[size_t(s)] < 0) continue;
    out.accept[size_t(id[size_t(s)])] = d.accept[size_t(s)];
    for (int c = 0; c < d.n_cls; ++c) {
      int32_t t = d.next[size_t(s) * size_t(d.n_cls) + size_t(c)];
      out.next[size_t(id[size_t(s)]) * size_t(d.n_cls) + size_t(c)] = t < 0 ? -1 : id[size_t(t)];
    }
  }
  d = std::move(out);
}

void minimize(ByteDfa& d, size_t max_states) {
  const int32_t n = d.size();
  if (n <= 1 || size_t(n) > max_states) return;
  const size_t cols = size_t(d.n_cls);
  std::vector<int32_t> part(static_cast<size_t>(n));
  for (int32_t s = 0; s < n; ++s) part[size_t(s)] = d.accept[size_t(s)] ? 1 : 0;
  size_t count = 0;
  for (;;) {
    std::map<std::vector<int32_t>, int32_t> ids;
    std::vector<int32_t> next_part(static_cast<size_t>(n));
    std::vector<int32_t> sig(cols + 1);
    for (int32_t s = 0; s < n; ++s) {
      sig[0] = part[size_t(s)];
      for (size_t c = 0; c < cols; ++c) {
        int32_t t = d.next[size_t(s) * cols + c];
        sig[c + 1] = t < 0 ? -1 : part[size_t(t)];
      }
      auto it = ids.emplace(sig, int32_t(ids.size())).first;
      next_part[size_t(s)] = it->second;
    }
    part = std::move(next_part);
    if (ids.size() == count) break;
    count = ids.size();
  }
  ByteDfa out;
  out.cls = d.cls;
  out.n_cls = d.n_cls;
  out.accept.assign(count, 0);
  out.next.assign(count * cols, -1);
  out.start = part[size_t(d.start)];
  for (int32_t s = 0; s < n; ++s) {
    const size_t p = size_t(part[size_t(s)]);
    out.accept[p] = d.accept[size_t(s)];
    for (size_t c = 0; c < cols; ++c) {
      int32_t t = d.next[size_t(s) * cols + c];
      out.next[p * cols + c] = t < 0 ? -1 : part[size_t(t)];
    }
  }
  d = std::move(out);
}

}  // namespace g4::jsonc
