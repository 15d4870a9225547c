#pragma once
// Jinja2 lexer, configured as transformers configures it: trim_blocks=True, lstrip_blocks=True,
// keep_trailing_newline=False, newlines normalized to "\n". Whitespace control (`{%-`, `-%}`, `{%+`, `+%}`),
// comments and {% raw %} blocks are resolved here, so the parser only sees text and tag tokens.
#include <cstdint>
#include <string>
#include <vector>

namespace g4::tpl {

enum class Tok { Text, VarBegin, VarEnd, BlockBegin, BlockEnd, Name, String, Int, Float, Op, Eof };

struct Token {
  Tok type = Tok::Eof;
  std::string text;  // Text: the data; Name/Op: the spelling; String: the unescaped value
  int64_t ival = 0;
  double fval = 0;
  int line = 1, col = 1;
};

// Maps byte offsets of the normalized source to 1-based line and column (in code points).
class SourceMap {
 public:
  explicit SourceMap(const std::string& src);
  void locate(size_t offset, int& line, int& col) const;

 private:
  const std::string& src_;
  std::vector<size_t> line_starts_;
  // Tokens are located in increasing order: continue from the last answer instead of rescanning the line.
  mutable size_t last_offset_ = 0;
  mutable int last_line_ = 1, last_col_ = 1;
};

// Newline normalization and the removal of one trailing newline, as Jinja2 does before lexing.
std::string normalize_template_source(const std::string& source);

// Tokenizes a normalized source. Throws g4::Error "<origin>:<line>:<col>: <message>" on lexical errors.
std::vector<Token> tokenize(const std::string& normalized_source, const std::string& origin);

}  // namespace g4::tpl
