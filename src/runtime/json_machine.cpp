#include "runtime/json_machine.h"

#include <algorithm>
#include <cstdint>
#include <utility>

namespace g4::jsonc {

namespace {

constexpr size_t kMaxStacks = 64;
constexpr int32_t kBoolList = -1, kNullList = -2, kToolList = -3;

enum ObjPhase : uint8_t { OB_OPEN, OB_AFTER_COMMA, OB_KEY_DONE, OB_AFTER_VALUE };
enum ArrPhase : uint8_t { AR_OPEN, AR_AFTER_VALUE };
enum StrPhase : uint8_t { ST_NORMAL, ST_ESC, ST_HEX };
enum NumPhase : uint8_t { N_START, N_MINUS, N_ZERO, N_INT, N_DOT, N_FRAC, N_E, N_ESIGN, N_EXP };
enum NumFlags : uint8_t { F_INTONLY = 1, F_NEG = 2, F_BOUNDED = 4, F_HEXD = 8 };

const std::vector<std::string>& bool_literals() {
  static const std::vector<std::string> v = {"false", "true"};
  return v;
}
const std::vector<std::string>& null_literals() {
  static const std::vector<std::string> v = {"null"};
  return v;
}

inline bool is_ws(uint8_t c) { return c == ' ' || c == '\n' || c == '\t' || c == '\r'; }
inline bool is_digit(uint8_t c) { return c >= '0' && c <= '9'; }
inline int hex_value(uint8_t c) {
  if (is_digit(c)) return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

Frame value_frame(int node, int depth, uint8_t ws = 0) {
  Frame f;
  f.kind = FK::Value;
  f.node = node;
  f.c = depth;
  f.ws = ws;
  return f;
}

int item_node(const Node& n, int64_t i) { return i < int64_t(n.prefix.size()) ? n.prefix[size_t(i)] : n.items; }

NumProgress progress(const Frame& f) {
  NumProgress p;
  switch (f.phase) {
    case N_ZERO: p.phase = NumProgress::Zero; break;
    case N_INT: p.phase = NumProgress::Int; break;
    case N_DOT: p.phase = NumProgress::Dot; break;
    case N_FRAC: p.phase = NumProgress::Frac; break;
    default: p.phase = NumProgress::Start;
  }
  p.neg = f.flags & F_NEG;
  p.int_only = f.flags & F_INTONLY;
  p.k = f.a;
  p.m = f.b;
  p.digits = f.d;
  return p;
}

size_t utf8_encode(uint32_t cp, uint8_t* out) {
  if (cp < 0x80) {
    out[0] = uint8_t(cp);
    return 1;
  }
  if (cp < 0x800) {
    out[0] = uint8_t(0xC0 | (cp >> 6));
    out[1] = uint8_t(0x80 | (cp & 0x3F));
    return 2;
  }
  out[0] = uint8_t(0xE0 | (cp >> 12));
  out[1] = uint8_t(0x80 | ((cp >> 6) & 0x3F));
  out[2] = uint8_t(0x80 | (cp & 0x3F));
  return 3;
}

}  // namespace

State Machine::initial() const {
  State state;
  Stack st;
  Frame root;
  root.kind = FK::Root;
  st.push_back(root);
  if (s_.tool_root) {
    Frame lit;
    lit.kind = FK::Literal;
    lit.node = kToolList;
    lit.a = 0;
    lit.b = int32_t(s_.tool_texts.size());
    st.push_back(lit);
  } else {
    st.push_back(value_frame(s_.root, 0));
  }
  state.stacks.push_back(std::move(st));
  return state;
}

const std::vector<std::string>& Machine::literals(int32_t list) const {
  if (list == kBoolList) return bool_literals();
  if (list == kNullList) return null_literals();
  if (list == kToolList) return s_.tool_texts;
  return s_.nodes[size_t(list)].literals;
}

bool Machine::literal_complete(const Frame& f) const {
  return f.a < f.b && literals(f.node)[size_t(f.a)].size() == size_t(f.d);
}

bool Machine::number_complete(const Frame& f) const {
  if (f.phase != N_ZERO && f.phase != N_INT && f.phase != N_FRAC && f.phase != N_EXP) return false;
  if (!(f.flags & F_BOUNDED)) return true;
  return number_in_bounds(s_.nodes[size_t(f.node)], progress(f));
}

bool Machine::stack_complete(const Stack& st) const {
  const Frame& t = st.back();
  if (t.kind == FK::Root) return true;
  if (st.size() != 2) return false;
  if (t.kind == FK::Number) return number_complete(t);
  if (t.kind == FK::Literal) return t.node != kToolList && literal_complete(t);
  return false;
}

bool Machine::complete(const State& state) const {
  for (const Stack& st : state.stacks)
    if (stack_complete(st)) return true;
  return false;
}

bool Machine::must_end(const State& state) const {
  for (const Stack& st : state.stacks)
    if (st.size() != 1 || st.back().ws < s_.max_ws) return false;
  return !state.stacks.empty();
}

Machine::Plain Machine::plain_content(const State& state, int64_t* room) const {
  *room = INT64_MAX;
  Plain kind = Plain::None;
  for (const Stack& st : state.stacks) {
    const Frame& f = st.back();
    Plain k;
    if (f.kind == FK::Key) {
      const int dfa = s_.nodes[size_t(f.node)].free_key_dfa;
      if (f.c < 0 || dfa < 0 || s_.neutral[size_t(dfa)] != f.c) return Plain::None;
      k = s_.syntax == JsonSyntax::Json ? Plain::Text : Plain::Key;  // Json keys take Json text
    } else if (f.kind == FK::Object && s_.syntax == JsonSyntax::Gemma &&
               (f.phase == OB_OPEN || f.phase == OB_AFTER_COMMA) && free_key_allowed(s_.nodes[size_t(f.node)], f)) {
      // where a key may start: every bare-key token starts another key (or a declared one)
      k = Plain::Key;
    } else if (f.kind == FK::String && f.phase == ST_NORMAL) {
      const Node& n = s_.nodes[size_t(f.node)];
      if (!n.str_plain || f.a != s_.neutral[size_t(n.str_dfa)]) return Plain::None;
      if (n.max_len >= 0) *room = std::min(*room, n.max_len - f.d);
      k = Plain::Text;
    } else {
      return Plain::None;
    }
    if (kind != Plain::None && kind != k) return Plain::None;
    kind = k;
  }
  return kind;
}

bool Machine::ws_ok(Frame& f, uint8_t c) const {
  if (!is_ws(c) || s_.syntax != JsonSyntax::Json || f.ws >= s_.max_ws) return false;
  ++f.ws;
  return true;
}

// Declared property p may come next in object frame `obj`: after the last one written, not past the
// next required one, and its value fits the depth left.
bool Machine::prop_allowed(const Node& n, const Frame& obj, int p) const {
  const int np = int(n.prop_names.size());
  const int r = n.next_required[size_t(obj.a + 1)];
  if (p <= obj.a || p >= np || p > r) return false;
  return s_.nodes[size_t(n.prop_nodes[size_t(p)])].min_depth <= budget(obj.c);
}

bool Machine::free_key_allowed(const Node& n, const Frame& obj) const {
  if (n.additional < 0 || n.free_key_dfa < 0) return false;
  if (n.next_required[size_t(obj.a + 1)] != int(n.prop_names.size())) return false;  // required ones first
  return s_.nodes[size_t(n.additional)].min_depth <= budget(obj.c);
}

bool Machine::key_possible(const Node& n, const Frame& obj) const {
  if (free_key_allowed(n, obj)) return true;
  for (int p = obj.a + 1; p < int(n.prop_names.size()); ++p) {
    if (prop_allowed(n, obj, p)) return true;
    if (n.prop_required[size_t(p)]) break;
  }
  return false;
}

bool Machine::item_allowed(const Node& n, const Frame& arr, int64_t i) const {
  if (n.max_items >= 0 && i >= n.max_items) return false;
  const int it = item_node(n, i);
  return it >= 0 && s_.nodes[size_t(it)].min_depth <= budget(arr.c);
}

bool Machine::step(State& state, uint8_t c) const {
  std::vector<Stack> forks;
  auto& stacks = state.stacks;
  size_t w = 0;
  const size_t n = stacks.size();
  for (size_t i = 0; i < n; ++i) {
    if (step_stack(stacks[i], c, forks)) {
      if (w != i) std::swap(stacks[w], stacks[i]);
      ++w;
    }
  }
  stacks.resize(w);
  for (auto& f : forks) stacks.push_back(std::move(f));
  if (stacks.size() > 1) {
    size_t u = 0;
    for (size_t i = 0; i < stacks.size(); ++i) {
      bool dup = false;
      for (size_t j = 0; j < u && !dup; ++j) dup = stacks[j] == stacks[i];
      if (!dup) {
        if (u != i) std::swap(stacks[u], stacks[i]);
        ++u;
      }
    }
    // Each survivor can still be completed on its own, so dropping some never strands the output.
    stacks.resize(std::min(u, kMaxStacks));
  }
  return !stacks.empty();
}

bool Machine::step_stack(Stack& st, uint8_t c, std::vector<Stack>& forks) const {
  for (;;) {
    bool again = false, ok = false;
    Frame& f = st.back();
    switch (f.kind) {
      case FK::Root: return ws_ok(f, c);
      case FK::Value: ok = step_value(st, c, forks, &again); break;
      case FK::Object: ok = step_object(st, c, &again); break;
      case FK::Key: ok = step_key(st, c, &again); break;
      case FK::Array: ok = step_array(st, c, &again); break;
      case FK::String: return step_string(st, c);
      case FK::Number: ok = step_number(st, c, &again); break;
      case FK::Literal: ok = step_literal(st, c, &again); break;
    }
    if (!ok) return false;
    if (!again) return true;
  }
}

bool Machine::step_value(Stack& st, uint8_t c, std::vector<Stack>& forks, bool* again) const {
  Frame& f = st.back();
  if (ws_ok(f, c)) return true;
  const Node& n = s_.nodes[size_t(f.node)];
  const int depth = f.c, room = budget(depth);
  if (!n.any_of.empty()) {
    const uint8_t ws = f.ws;
    int first = -1;
    for (int alt : n.any_of) {
      if (s_.nodes[size_t(alt)].min_depth > room) continue;
      if (first < 0) {
        first = alt;
        continue;
      }
      Stack copy = st;
      copy.back() = value_frame(alt, depth, ws);
      if (step_stack(copy, c, forks)) forks.push_back(std::move(copy));
    }
    if (first < 0) return false;
    st.back() = value_frame(first, depth, ws);
    *again = true;
    return true;
  }
  const int node = f.node;
  Frame g;
  g.node = node;
  g.c = depth;
  if (n.has_enum) {
    g.kind = FK::Literal;
    g.b = int32_t(n.literals.size());
    st.back() = g;
    *again = true;
    return true;
  }
  if (c == '{' && (n.types & T_OBJ) && n.obj_depth <= room) {
    g.kind = FK::Object;
    g.phase = OB_OPEN;
    g.a = g.b = -1;
    g.c = depth + 1;
    st.back() = g;
    return true;
  }
  if (c == '[' && (n.types & T_ARR) && n.arr_depth <= room) {
    g.kind = FK::Array;
    g.phase = AR_OPEN;
    g.c = depth + 1;
    st.back() = g;
    return true;
  }
  const uint8_t quote = s_.syntax == JsonSyntax::Json ? uint8_t('"') : kGemmaQuote;
  if (c == quote && (n.types & T_STR)) {
    g.kind = FK::String;
    g.phase = ST_NORMAL;
    g.a = s_.dfas[size_t(n.str_dfa)].start;
    st.back() = g;
    return true;
  }
  if ((c == '-' || is_digit(c)) && (n.types & (T_NUM | T_INT))) {
    g.kind = FK::Number;
    g.phase = N_START;
    g.flags = uint8_t((n.types & T_NUM ? 0 : F_INTONLY) | (n.bounded ? F_BOUNDED : 0));
    st.back() = g;
    *again = true;
    return true;
  }
  if ((c == 't' || c == 'f') && (n.types & T_BOOL)) {
    g.kind = FK::Literal;
    g.node = kBoolList;
    g.b = 2;
    st.back() = g;
    *again = true;
    return true;
  }
  if (c == 'n' && (n.types & T_NULL)) {
    g.kind = FK::Literal;
    g.node = kNullList;
    g.b = 1;
    st.back() = g;
    *again = true;
    return true;
  }
  return false;
}

bool Machine::step_object(Stack& st, uint8_t c, bool* again) const {
  Frame& f = st.back();
  const Node& n = s_.nodes[size_t(f.node)];
  const bool all_required = n.next_required[size_t(f.a + 1)] == int(n.prop_names.size());
  switch (f.phase) {
    case OB_OPEN:
    case OB_AFTER_COMMA: {
      if (ws_ok(f, c)) return true;
      if (c == '}' && f.phase == OB_OPEN) {
        if (!all_required) return false;
        st.pop_back();
        return true;
      }
      if (s_.syntax == JsonSyntax::Json && c != '"') return false;
      if (!key_possible(n, f)) return false;
      f.phase = OB_KEY_DONE;
      f.ws = 0;
      Frame k;
      k.kind = FK::Key;
      k.node = f.node;
      k.a = 0;
      k.b = int32_t(n.key_texts.size());
      k.c = free_key_allowed(n, f) ? s_.dfas[size_t(n.free_key_dfa)].start : -1;
      k.d = 0;
      st.push_back(k);
      *again = true;
      return true;
    }
    case OB_KEY_DONE: {
      if (ws_ok(f, c)) return true;
      if (c != ':') return false;
      f.phase = OB_AFTER_VALUE;
      f.ws = 0;
      const int child = f.b >= 0 ? n.prop_nodes[size_t(f.b)] : n.additional;
      st.push_back(value_frame(child, f.c));
      return true;
    }
    case OB_AFTER_VALUE: {
      if (ws_ok(f, c)) return true;
      if (c == ',') {
        if (!key_possible(n, f)) return false;
        f.phase = OB_AFTER_COMMA;
        f.ws = 0;
        return true;
      }
      if (c == '}' && all_required) {
        st.pop_back();
        return true;
      }
      return false;
    }
  }
  return false;
}

bool Machine::step_key(Stack& st, uint8_t c, bool* again) const {
  Frame& k = st.back();
  Frame& obj = st[st.size() - 2];
  const Node& n = s_.nodes[size_t(k.node)];
  const auto& texts = n.key_texts;
  const size_t pos = size_t(k.d);
  auto byte_at = [pos](const std::string& s) { return s.size() > pos ? int(uint8_t(s[pos])) : -1; };
  auto lo = std::lower_bound(texts.begin() + k.a, texts.begin() + k.b, int(c),
                             [&](const std::string& s, int v) { return byte_at(s) < v; });
  auto hi = std::upper_bound(lo, texts.begin() + k.b, int(c), [&](int v, const std::string& s) { return v < byte_at(s); });
  const int32_t lo2 = int32_t(lo - texts.begin()), hi2 = int32_t(hi - texts.begin());
  int32_t fs = -1;
  if (k.c >= 0) {
    const ByteDfa& dfa = s_.dfas[size_t(n.free_key_dfa)];
    fs = dfa.step(k.c, c);
    if (fs >= 0 && dfa.accepting(fs)) {
      // A finished other key that spells a declared name is that property; when that property
      // may not come here and the key cannot grow, this path is a dead end.
      bool can_grow = false;
      for (int col = 0; col < dfa.n_cls && !can_grow; ++col) can_grow = dfa.next[size_t(fs) * size_t(dfa.n_cls) + size_t(col)] >= 0;
      if (!can_grow && lo2 < hi2 && texts[size_t(lo2)].size() == pos + 1 && !prop_allowed(n, obj, n.key_prop[size_t(lo2)]))
        fs = -1;
    }
  }
  bool ok = fs >= 0;
  for (int32_t i = lo2; i < hi2 && !ok; ++i) ok = prop_allowed(n, obj, n.key_prop[size_t(i)]);
  if (ok) {
    k.a = lo2;
    k.b = hi2;
    k.c = fs;
    k.d = int64_t(pos + 1);
    return true;
  }
  // c does not continue the key: it must be complete
  if (k.a < k.b && texts[size_t(k.a)].size() == pos) {
    const int p = n.key_prop[size_t(k.a)];
    if (!prop_allowed(n, obj, p)) return false;
    obj.a = p;
    obj.b = p;
  } else if (k.c >= 0 && s_.dfas[size_t(n.free_key_dfa)].accepting(k.c)) {
    obj.b = -1;
  } else {
    return false;
  }
  st.pop_back();
  *again = true;
  return true;
}

bool Machine::step_array(Stack& st, uint8_t c, bool* again) const {
  Frame& f = st.back();
  const Node& n = s_.nodes[size_t(f.node)];
  if (ws_ok(f, c)) return true;
  if (c == ']') {
    if (f.a < n.min_items) return false;
    st.pop_back();
    return true;
  }
  if (f.phase == AR_OPEN) {
    if (!item_allowed(n, f, 0)) return false;
    f.phase = AR_AFTER_VALUE;
    f.ws = 0;
    f.a = 1;
    st.push_back(value_frame(item_node(n, 0), f.c));
    *again = true;  // the byte starts the first item
    return true;
  }
  if (c != ',' || !item_allowed(n, f, f.a)) return false;
  const int it = item_node(n, f.a);
  ++f.a;
  f.ws = 0;
  st.push_back(value_frame(it, f.c));
  return true;
}

// One byte of decoded content into the content automaton, counting characters and (in f.b) the
// continuation bytes still due for the character begun.
bool Machine::feed_content(Frame& f, const Node& n, uint8_t byte) const {
  const int32_t t = s_.dfas[size_t(n.str_dfa)].step(f.a, byte);
  if (t < 0) return false;
  if ((byte & 0xC0) != 0x80) {
    if (n.max_len >= 0 && f.d >= n.max_len) return false;
    ++f.d;
    f.b = byte >= 0xF0 ? 3 : byte >= 0xE0 ? 2 : byte >= 0xC0 ? 1 : 0;
  } else if (f.b > 0) {
    --f.b;
  }
  f.a = t;
  return true;
}

bool Machine::step_string(Stack& st, uint8_t c) const {
  Frame& f = st.back();
  const Node& n = s_.nodes[size_t(f.node)];
  const ByteDfa& dfa = s_.dfas[size_t(n.str_dfa)];
  if (s_.syntax == JsonSyntax::Gemma) {
    if (c == kGemmaQuote) {
      if (!dfa.accepting(f.a) || f.d < n.min_len) return false;
      st.pop_back();
      return true;
    }
    return feed_content(f, n, c);
  }
  switch (f.phase) {
    case ST_NORMAL:
      if (c == '"') {
        if (!dfa.accepting(f.a) || f.d < n.min_len) return false;
        st.pop_back();
        return true;
      }
      if (c == '\\') {
        if (f.b > 0) return false;  // inside a multi-byte character
        if (n.max_len >= 0 && f.d >= n.max_len) return false;
        // some escape must be able to follow
        static const uint8_t decoded[] = {'"', '\\', '/', '\b', '\f', '\n', '\r', '\t'};
        bool any = n.str_plain;
        for (uint8_t b : decoded) any = any || dfa.step(f.a, b) >= 0;
        if (!any) return false;
        f.phase = ST_ESC;
        return true;
      }
      if (c < 0x20) return false;
      return feed_content(f, n, c);
    case ST_ESC: {
      uint8_t b;
      switch (c) {
        case '"': b = '"'; break;
        case '\\': b = '\\'; break;
        case '/': b = '/'; break;
        case 'b': b = '\b'; break;
        case 'f': b = '\f'; break;
        case 'n': b = '\n'; break;
        case 'r': b = '\r'; break;
        case 't': b = '\t'; break;
        case 'u':
          if (!n.str_plain) return false;
          f.phase = ST_HEX;
          f.b = 0;
          f.c = 0;
          f.flags = 0;
          return true;
        default: return false;
      }
      f.phase = ST_NORMAL;
      return feed_content(f, n, b);
    }
    case ST_HEX: {
      const int v = hex_value(c);
      if (v < 0) return false;
      if (f.b == 0 && (c == 'd' || c == 'D')) f.flags |= F_HEXD;
      if (f.b == 1 && (f.flags & F_HEXD) && v >= 8) return false;  // D800-DFFF: surrogates
      f.c = f.c * 16 + v;
      if (++f.b < 4) return true;
      uint8_t bytes[3];
      const size_t len = utf8_encode(uint32_t(f.c), bytes);
      f.phase = ST_NORMAL;
      for (size_t i = 0; i < len; ++i)
        if (!feed_content(f, n, bytes[i])) return false;
      return true;
    }
  }
  return false;
}

bool Machine::step_number(Stack& st, uint8_t c, bool* again) const {
  Frame& f = st.back();
  const Node& n = s_.nodes[size_t(f.node)];
  const bool int_only = f.flags & F_INTONLY, bounded = f.flags & F_BOUNDED;
  const int budget_digits = int_only ? kMaxIntDigits : kMaxBoundedDigits;
  auto viable = [&] { return !bounded || number_viable(n, progress(f)); };
  auto take_digit = [&](uint8_t d) {
    if (!bounded) return true;  // the value matters only under bounds (and would overflow without them)
    if (f.a + f.b + 1 > budget_digits) return false;
    f.d = f.d * 10 + (d - '0');
    return true;
  };
  switch (f.phase) {
    case N_START:
      if (c == '-') {
        f.phase = N_MINUS;
        f.flags |= F_NEG;
        return viable();
      }
      [[fallthrough]];
    case N_MINUS:
      if (!is_digit(c)) return false;
      f.phase = c == '0' ? N_ZERO : N_INT;
      f.a = 1;
      f.d = c - '0';
      return viable();
    case N_ZERO:
    case N_INT:
      if (is_digit(c) && f.phase == N_INT) {
        if (!bounded && f.a >= (int_only ? kMaxIntDigits : kMaxNumIntDigits)) return false;
        if (!take_digit(c)) return false;
        ++f.a;
        return viable();
      }
      if (c == '.' && !int_only) {
        if (bounded && f.a + 1 > budget_digits) return false;
        f.phase = N_DOT;
        return viable();
      }
      if ((c == 'e' || c == 'E') && !int_only && !bounded) {
        f.phase = N_E;
        return true;
      }
      if (is_digit(c)) return false;  // no leading zeros
      break;
    case N_DOT:
      if (!is_digit(c) || !take_digit(c)) return false;
      f.phase = N_FRAC;
      f.b = 1;
      return viable();
    case N_FRAC:
      if (is_digit(c)) {
        if (!bounded && f.b >= kMaxFracDigits) return false;
        if (!take_digit(c)) return false;
        ++f.b;
        return viable();
      }
      if ((c == 'e' || c == 'E') && !bounded) {
        f.phase = N_E;
        return true;
      }
      break;
    case N_E:
      if (c == '+' || c == '-') {
        f.phase = N_ESIGN;
        return true;
      }
      [[fallthrough]];
    case N_ESIGN:
      if (!is_digit(c)) return false;
      f.phase = N_EXP;
      f.c = 1;
      return true;
    case N_EXP:
      if (is_digit(c)) {
        if (f.c >= kMaxExpDigits) return false;
        ++f.c;
        return true;
      }
      break;
  }
  // the number has ended; c belongs to the parent
  if (!number_complete(f)) return false;
  st.pop_back();
  *again = true;
  return true;
}

bool Machine::step_literal(Stack& st, uint8_t c, bool* again) const {
  Frame& f = st.back();
  const auto& lits = literals(f.node);
  const size_t pos = size_t(f.d);
  auto byte_at = [pos](const std::string& s) { return s.size() > pos ? int(uint8_t(s[pos])) : -1; };
  auto lo = std::lower_bound(lits.begin() + f.a, lits.begin() + f.b, int(c),
                             [&](const std::string& s, int v) { return byte_at(s) < v; });
  auto hi = std::upper_bound(lo, lits.begin() + f.b, int(c), [&](int v, const std::string& s) { return v < byte_at(s); });
  auto finish = [&](int32_t index) {
    if (f.node == kToolList) {
      st.back() = value_frame(s_.tool_args[size_t(index)], 0);
    } else {
      st.pop_back();
    }
  };
  if (lo != hi) {
    f.a = int32_t(lo - lits.begin());
    f.b = int32_t(hi - lits.begin());
    f.d = int64_t(pos + 1);
    if (f.b - f.a == 1 && lits[size_t(f.a)].size() == pos + 1) finish(f.a);  // nothing can follow
    return true;
  }
  if (!literal_complete(f)) return false;
  finish(f.a);
  *again = true;
  return true;
}

}  // namespace g4::jsonc
