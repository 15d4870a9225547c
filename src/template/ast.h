#pragma once
// The template syntax tree: expressions and statements, as Jinja2's parser builds them.
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "template/value.h"

namespace g4::tpl {

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

struct Expr {
  enum class K {
    Literal,   // literal
    Name,      // name
    List,      // items
    Tuple,     // items
    Dict,      // items: key, value, key, value, ...
    GetAttr,   // a.name
    GetItem,   // a[b]
    Slice,     // items: start, stop, step (each may be null); only as GetItem's b
    Call,      // a(items..., kwargs..., *star, **dstar)
    Filter,    // a|name(items..., kwargs...); a null inside {% filter %} and {% set x | f %}
    Test,      // a is [not] name(items..., kwargs...)
    Neg,       // -a
    Pos,       // +a
    Not,       // not a
    And,       // a and b
    Or,        // a or b
    Binary,    // a <name> b, name in + - * / // % **
    Concat,    // items joined with ~
    Compare,   // a ops[0] items[0] ops[1] items[1] ...
    Cond,      // b if a else c (c may be null)
  };
  K k;
  int line = 0, col = 0;
  int depth = 1;  // height of this subtree, bounded by the parser
  Value literal;
  std::string name;
  ExprPtr a, b, c;
  std::vector<ExprPtr> items;
  std::vector<std::pair<std::string, ExprPtr>> kwargs;
  ExprPtr star, dstar;
  std::vector<std::string> ops;
  bool negated = false;
};

// Assignment target: a name, a tuple of targets, or namespace attribute (ns.attr, only in {% set %}).
struct Target {
  enum class K { Name, Tuple, Attr } k = K::Name;
  std::string name, attr;
  std::vector<Target> items;
};

struct Stmt;
using StmtPtr = std::unique_ptr<Stmt>;
using Body = std::vector<StmtPtr>;

struct Stmt {
  enum class K {
    Text,         // text
    Output,       // {{ expr }}
    If,           // branches (cond, body), else_body
    For,          // target in expr [if cond] [recursive]: body [else: else_body]
    Set,          // target = expr
    SetBlock,     // {% set target [| filter expr] %}body{% endset %}
    Macro,        // {% macro name(params=defaults) %}body
    CallBlock,    // {% call(params) expr %}body: `caller` is a macro with body
    FilterBlock,  // {% filter expr %}body
    With,         // {% with assigns %}body
    Break,
    Continue,
    Scope,  // body rendered in place ({% block %}, {% generation %}, {% autoescape %})
  };
  K k;
  int line = 0, col = 0;
  std::string text;
  ExprPtr expr, cond;
  Target target;
  Body body, else_body;
  std::vector<std::pair<ExprPtr, Body>> branches;
  bool recursive = false;
  // macro / call block
  std::string name;
  std::vector<std::string> params;
  std::vector<ExprPtr> defaults;  // aligned with params, null where no default
  bool uses_varargs = false, uses_kwargs = false, uses_caller = false;
  // with
  std::vector<std::pair<Target, ExprPtr>> assigns;
};

}  // namespace g4::tpl
