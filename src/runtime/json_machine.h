#pragma once
// Internal to the JSON constraint: the byte automaton over a compiled Schema. Its state is a set
// of stacks (one per live anyOf alternative); each stack is a pushdown of small frames. Every byte
// the machine accepts keeps at least one stack that can still be completed to a valid document:
// choices that cannot (a property whose value would nest too deep, a number that can no longer
// meet its bounds, string content that can no longer match its pattern) are refused on the byte
// that would make them.
#include <cstdint>
#include <vector>

#include "runtime/json_schema.h"

namespace g4::jsonc {

enum class FK : uint8_t { Root, Value, Object, Key, Array, String, Number, Literal };

// Field use per kind:
//   Root     ws
//   Value    node, c = depth of the enclosing container (0 at the top), ws
//   Object   node, phase, a = last declared property written (-1), b = current one (-1: other key),
//            c = own depth, ws
//   Key      node (the object's), a..b = range of key_texts still matching, c = free-key DFA state
//            (-1: none), d = bytes so far
//   Array    node, phase, a = items started, c = own depth, ws
//   String   node, phase, a = content DFA state, b = UTF-8 continuation bytes due (\u hex digits
//            read while in an escape), c = their value, d = chars
//   Number   node, phase, flags, a = integer digits, b = fraction digits, c = exponent digits,
//            d = the digits as one integer (bounded numbers)
//   Literal  node (a node's literal list, or kBoolList/kNullList/kToolList), a..b = range still
//            matching, c = enclosing depth, d = bytes so far
struct Frame {
  FK kind = FK::Root;
  uint8_t phase = 0;
  uint8_t flags = 0;
  uint8_t ws = 0;
  int32_t node = 0;
  int32_t a = 0, b = 0, c = 0;
  int64_t d = 0;
  bool operator==(const Frame&) const = default;
};

using Stack = std::vector<Frame>;

struct State {
  std::vector<Stack> stacks;
};

class Machine {
 public:
  explicit Machine(const Schema& s) : s_(s) {}

  State initial() const;
  // Advances every stack over byte c; false when none survives (the state is then garbage).
  bool step(State& state, uint8_t c) const;
  bool complete(const State& state) const;
  bool must_end(const State& state) const;
  // Where every stack is inside plain content at its automaton's neutral state (string content, a
  // key past its first character, or where a Gemma bare key may start): then every token of the matching "plain" set is accepted
  // without changing the automaton's position. `room` is the fewest characters any stack may still
  // add (maxLength), INT64_MAX when unbounded.
  enum class Plain : uint8_t { None, Text, Key };
  Plain plain_content(const State& state, int64_t* room) const;

 private:
  bool step_stack(Stack& st, uint8_t c, std::vector<Stack>& forks) const;
  bool step_value(Stack& st, uint8_t c, std::vector<Stack>& forks, bool* again) const;
  bool step_object(Stack& st, uint8_t c, bool* again) const;
  bool step_key(Stack& st, uint8_t c, bool* again) const;
  bool step_array(Stack& st, uint8_t c, bool* again) const;
  bool step_string(Stack& st, uint8_t c) const;
  bool step_number(Stack& st, uint8_t c, bool* again) const;
  bool step_literal(Stack& st, uint8_t c, bool* again) const;

  const std::vector<std::string>& literals(int32_t list) const;
  bool literal_complete(const Frame& f) const;
  bool number_complete(const Frame& f) const;
  bool stack_complete(const Stack& st) const;
  bool ws_ok(Frame& f, uint8_t c) const;
  int budget(int depth) const { return s_.max_depth - depth; }
  bool prop_allowed(const Node& n, const Frame& obj, int p) const;
  bool free_key_allowed(const Node& n, const Frame& obj) const;
  bool key_possible(const Node& n, const Frame& obj) const;
  bool item_allowed(const Node& n, const Frame& arr, int64_t i) const;
  bool feed_content(Frame& f, const Node& n, uint8_t byte) const;

  const Schema& s_;
};

}  // namespace g4::jsonc
