#pragma once
// Jinja2 parser: tokens -> statements. Syntax errors throw g4::Error "<origin>:<line>:<col>: <message>".
#include <string>
#include <vector>

#include "template/ast.h"
#include "template/lexer.h"

namespace g4::tpl {

constexpr int kMaxParseDepth = 200;  // nesting of expressions and blocks
constexpr int kMaxExprDepth = 400;   // height of one expression tree (long a.b.c / a|f|g / a+b+c chains)

Body parse_template(const std::vector<Token>& tokens, const std::string& origin);

}  // namespace g4::tpl
