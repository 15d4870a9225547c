#pragma once
// A small, fast, allocation-light JSON scanner for the two huge parts of a tokenizer.json (model.vocab
// with 262k entries, model.merges with 515k): nlohmann::json would build a DOM of millions of nodes.
// Everything else is handed to nlohmann as raw text. Errors throw g4::Error with the byte offset.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace g4 {

class JsonScanner {
 public:
  // `what` starts every error message, e.g. "tokenizer 'x/tokenizer.json' is not valid JSON".
  JsonScanner(std::string_view text, std::string what) : s_(text), what_(std::move(what)) {}

  size_t pos() const { return pos_; }
  void skip_ws() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\n' || s_[pos_] == '\r' || s_[pos_] == '\t')) ++pos_;
  }
  char peek() {
    skip_ws();
    return pos_ < s_.size() ? s_[pos_] : '\0';
  }
  void expect(char c);
  bool consume(char c) {  // skips whitespace; takes c when it is next
    if (peek() != c) return false;
    ++pos_;
    return true;
  }
  // Appends the unescaped string value (the next token must be a string).
  void string(std::string& out);
  int64_t integer();
  // Skips any value and returns its raw text.
  std::string_view raw_value();
  [[noreturn]] void fail(const std::string& msg) const;

 private:
  std::string_view s_;
  size_t pos_ = 0;
  std::string what_;
};

}  // namespace g4
