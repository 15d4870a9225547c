#include "template/parser.h"

#include <algorithm>

#include "core/error.h"

namespace g4::tpl {

namespace {

class Parser {
 public:
  Parser(const std::vector<Token>& toks, const std::string& origin) : t_(toks), origin_(origin) {}

  Body parse_all() {
    Body body = subparse({});
    return body;
  }

 private:
  // ---- token helpers ----
  const Token& cur() const { return t_[pos_]; }
  const Token& peek(size_t k = 1) const { return t_[std::min(pos_ + k, t_.size() - 1)]; }
  void next() {
    if (pos_ + 1 < t_.size()) ++pos_;
  }
  bool is_op(const char* op) const { return cur().type == Tok::Op && cur().text == op; }
  bool is_name(const char* n) const { return cur().type == Tok::Name && cur().text == n; }

  static std::string describe(const Token& t) {
    switch (t.type) {
      case Tok::Eof:
        return "end of template";
      case Tok::VarEnd:
        return "end of print statement";
      case Tok::BlockEnd:
        return "end of statement block";
      case Tok::VarBegin:
        return "begin of print statement";
      case Tok::BlockBegin:
        return "begin of statement block";
      case Tok::Text:
        return "template data";
      case Tok::String:
        return "string";
      default:
        return t.text;
    }
  }

  [[noreturn]] void fail_at(const Token& t, const std::string& msg) const {
    throw Error(origin_ + ":" + std::to_string(t.line) + ":" + std::to_string(t.col) + ": " + msg);
  }
  [[noreturn]] void fail(const std::string& msg) const { fail_at(cur(), msg); }
  [[noreturn]] void fail_at_pos(int line, int col, const std::string& msg) const {
    throw Error(origin_ + ":" + std::to_string(line) + ":" + std::to_string(col) + ": " + msg);
  }

  void expect_op(const char* op) {
    if (!is_op(op)) fail("expected '" + std::string(op) + "', got '" + describe(cur()) + "'");
    next();
  }
  void expect(Tok type, const char* what) {
    if (cur().type != type) fail("expected " + std::string(what) + ", got '" + describe(cur()) + "'");
    next();
  }
  std::string expect_name() {
    if (cur().type != Tok::Name) fail("expected name, got '" + describe(cur()) + "'");
    std::string n = cur().text;
    next();
    return n;
  }
  void expect_block_end() { expect(Tok::BlockEnd, "end of statement block"); }

  struct DepthGuard {
    Parser& p;
    explicit DepthGuard(Parser& parser) : p(parser) {
      if (++p.depth_ > kMaxParseDepth) p.fail("template nesting too deep (limit " + std::to_string(kMaxParseDepth) + ")");
    }
    ~DepthGuard() { --p.depth_; }
  };

  ExprPtr make(Expr::K k, const Token& at) {
    auto e = std::make_unique<Expr>();
    e->k = k;
    e->line = at.line;
    e->col = at.col;
    return e;
  }

  // Records the height of a finished node; chains built in loops cannot grow past kMaxExprDepth.
  ExprPtr finish(ExprPtr e) {
    int d = 0;
    auto see = [&](const ExprPtr& c) {
      if (c) d = std::max(d, c->depth);
    };
    see(e->a);
    see(e->b);
    see(e->c);
    see(e->star);
    see(e->dstar);
    for (const auto& c : e->items) see(c);
    for (const auto& kv : e->kwargs) see(kv.second);
    e->depth = d + 1;
    if (e->depth > kMaxExprDepth)
      fail_at_pos(e->line, e->col, "expression nesting too deep (limit " + std::to_string(kMaxExprDepth) + ")");
    return e;
  }

  StmtPtr make_stmt(Stmt::K k, const Token& at) {
    auto s = std::make_unique<Stmt>();
    s->k = k;
    s->line = at.line;
    s->col = at.col;
    return s;
  }

  // ---- statements ----

  // Parses until one of `ends` appears as a block tag; leaves the stream at that tag's name.
  Body subparse(const std::vector<std::string>& ends) {
    Body body;
    while (true) {
      const Token& tok = cur();
      switch (tok.type) {
        case Tok::Text: {
          auto s = make_stmt(Stmt::K::Text, tok);
          s->text = tok.text;
          body.push_back(std::move(s));
          next();
          break;
        }
        case Tok::VarBegin: {
          next();
          auto s = make_stmt(Stmt::K::Output, tok);
          s->expr = parse_tuple(false, true, {}, false);
          expect(Tok::VarEnd, "end of print statement");
          body.push_back(std::move(s));
          break;
        }
        case Tok::BlockBegin: {
          next();
          if (cur().type == Tok::Name && std::find(ends.begin(), ends.end(), cur().text) != ends.end()) return body;
          body.push_back(parse_statement(ends));
          break;
        }
        case Tok::Eof:
          if (!ends.empty()) fail_at(tok, "Unexpected end of template. " + looking_for(ends));
          return body;
        default:
          fail("unexpected '" + describe(tok) + "'");
      }
    }
  }

  std::string looking_for(const std::vector<std::string>& ends) const {
    std::string s = "Jinja was looking for the following tags: ";
    for (size_t i = 0; i < ends.size(); ++i) s += (i ? " or '" : "'") + ends[i] + "'";
    s += ". The innermost block that needs to be closed is '" + (open_.empty() ? std::string("?") : open_.back()) + "'.";
    return s;
  }

  struct OpenGuard {
    Parser& p;
    OpenGuard(Parser& parser, const std::string& tag) : p(parser) { p.open_.push_back(tag); }
    ~OpenGuard() { p.open_.pop_back(); }
  };

  StmtPtr parse_statement(const std::vector<std::string>& ends) {
    DepthGuard guard(*this);
    const Token tok = cur();
    if (tok.type != Tok::Name) fail("tag name expected");
    const std::string& n = tok.text;
    if (n == "if") return parse_if();
    if (n == "for") return parse_for();
    if (n == "set") return parse_set();
    if (n == "macro") return parse_macro();
    if (n == "call") return parse_call_block();
    if (n == "filter") return parse_filter_block();
    if (n == "with") return parse_with();
    if (n == "break" || n == "continue") {
      if (loop_depth_ == 0) fail("'" + n + "' outside loop");
      next();
      expect_block_end();
      return make_stmt(n == "break" ? Stmt::K::Break : Stmt::K::Continue, tok);
    }
    if (n == "block" || n == "generation" || n == "autoescape") return parse_scope(n);
    if (n == "extends" || n == "include" || n == "import" || n == "from")
      fail("'" + n + "' is not supported: chat templates cannot load other templates");
    std::string msg = "Encountered unknown tag '" + n + "'.";
    if (!ends.empty()) msg += " " + looking_for(ends);
    fail(msg);
  }

  StmtPtr parse_if() {
    const Token tok = cur();
    next();
    OpenGuard og(*this, "if");
    auto s = make_stmt(Stmt::K::If, tok);
    ExprPtr cond = parse_tuple(false, false, {}, false);
    expect_block_end();
    while (true) {
      Body body = subparse({"elif", "else", "endif"});
      s->branches.emplace_back(std::move(cond), std::move(body));
      std::string tag = cur().text;
      next();
      if (tag == "elif") {
        cond = parse_tuple(false, false, {}, false);
        expect_block_end();
        continue;
      }
      if (tag == "else") {
        expect_block_end();
        s->else_body = subparse({"endif"});
        next();
      }
      expect_block_end();
      return s;
    }
  }

  StmtPtr parse_for() {
    const Token tok = cur();
    next();
    OpenGuard og(*this, "for");
    auto s = make_stmt(Stmt::K::For, tok);
    s->target = parse_assign_target(false, {"in"});
    if (!is_name("in")) fail("expected 'in', got '" + describe(cur()) + "'");
    next();
    s->expr = parse_tuple(false, false, {"recursive"}, false);
    if (is_name("if")) {
      next();
      s->cond = parse_expression(true);
    }
    if (is_name("recursive")) {
      next();
      s->recursive = true;
    }
    expect_block_end();
    ++loop_depth_;
    s->body = subparse({"endfor", "else"});
    --loop_depth_;
    if (cur().text == "else") {
      next();
      expect_block_end();
      s->else_body = subparse({"endfor"});
    }
    next();
    expect_block_end();
    return s;
  }

  StmtPtr parse_set() {
    const Token tok = cur();
    next();
    Target target = parse_assign_target(true, {});
    if (is_op("=")) {
      next();
      auto s = make_stmt(Stmt::K::Set, tok);
      s->target = std::move(target);
      s->expr = parse_tuple(false, true, {}, false);
      expect_block_end();
      return s;
    }
    OpenGuard og(*this, "set");
    auto s = make_stmt(Stmt::K::SetBlock, tok);
    if (target.k == Target::K::Tuple) fail("expected '=' after assignment target");
    s->target = std::move(target);
    if (is_op("|")) s->expr = parse_filter_chain(nullptr);
    expect_block_end();
    s->body = subparse({"endset"});
    next();
    expect_block_end();
    return s;
  }

  void parse_signature(Stmt& s) {
    expect_op("(");
    while (!is_op(")")) {
      if (!s.params.empty()) expect_op(",");
      if (is_op(")")) break;
      std::string name = expect_name();
      s.params.push_back(name);
      if (is_op("=")) {
        next();
        s.defaults.push_back(parse_expression(true));
      } else {
        if (!s.defaults.empty() && s.defaults.back()) fail("non-default argument follows default argument");
        s.defaults.push_back(nullptr);
      }
    }
    next();
  }

  StmtPtr parse_macro() {
    const Token tok = cur();
    next();
    OpenGuard og(*this, "macro");
    auto s = make_stmt(Stmt::K::Macro, tok);
    s->name = expect_name();
    parse_signature(*s);
    expect_block_end();
    macros_.push_back(s.get());
    int saved_loop = loop_depth_;
    loop_depth_ = 0;
    s->body = subparse({"endmacro"});
    loop_depth_ = saved_loop;
    macros_.pop_back();
    next();
    if (cur().type == Tok::Name) next();  // {% endmacro name %}
    expect_block_end();
    return s;
  }

  StmtPtr parse_call_block() {
    const Token tok = cur();
    next();
    OpenGuard og(*this, "call");
    auto s = make_stmt(Stmt::K::CallBlock, tok);
    s->name = "caller";
    if (is_op("(")) parse_signature(*s);
    s->expr = parse_expression(true);
    if (s->expr->k != Expr::K::Call) fail_at(tok, "expected call");
    expect_block_end();
    macros_.push_back(s.get());
    int saved_loop = loop_depth_;
    loop_depth_ = 0;
    s->body = subparse({"endcall"});
    loop_depth_ = saved_loop;
    macros_.pop_back();
    next();
    expect_block_end();
    return s;
  }

  StmtPtr parse_filter_block() {
    const Token tok = cur();
    next();
    OpenGuard og(*this, "filter");
    auto s = make_stmt(Stmt::K::FilterBlock, tok);
    s->expr = parse_filter_chain(nullptr, /*start_with_pipe=*/false);
    expect_block_end();
    s->body = subparse({"endfilter"});
    next();
    expect_block_end();
    return s;
  }

  StmtPtr parse_with() {
    const Token tok = cur();
    next();
    OpenGuard og(*this, "with");
    auto s = make_stmt(Stmt::K::With, tok);
    while (cur().type != Tok::BlockEnd) {
      if (!s->assigns.empty()) expect_op(",");
      Target t = parse_assign_target(false, {});
      expect_op("=");
      s->assigns.emplace_back(std::move(t), parse_expression(true));
    }
    expect_block_end();
    s->body = subparse({"endwith"});
    next();
    expect_block_end();
    return s;
  }

  StmtPtr parse_scope(const std::string& tag) {
    const Token tok = cur();
    next();
    OpenGuard og(*this, tag);
    auto s = make_stmt(Stmt::K::Scope, tok);
    if (tag == "block") {
      s->name = expect_name();
      if (is_name("scoped")) next();
      if (is_name("required")) next();
    } else if (tag == "autoescape") {
      parse_expression(true);
    }
    expect_block_end();
    s->body = subparse({"end" + tag});
    next();
    if (tag == "block" && cur().type == Tok::Name) next();
    expect_block_end();
    return s;
  }

  Target parse_assign_target(bool with_namespace, const std::vector<std::string>& extra_end) {
    if (with_namespace && cur().type == Tok::Name && peek().type == Tok::Op && peek().text == ".") {
      Target t;
      t.k = Target::K::Attr;
      t.name = cur().text;
      next();
      next();
      t.attr = expect_name();
      return t;
    }
    // simplified tuple of names
    std::vector<Target> items;
    bool is_tuple = false;
    bool paren = false;
    if (is_op("(")) {
      paren = true;
      next();
    }
    while (true) {
      if (!items.empty()) {
        if (!is_op(",")) break;
        next();
        is_tuple = true;
      }
      if (cur().type == Tok::BlockEnd || is_op("=") || is_op(")") ||
          (cur().type == Tok::Name && std::find(extra_end.begin(), extra_end.end(), cur().text) != extra_end.end()))
        break;
      if (is_op("(")) {
        items.push_back(parse_assign_target(false, extra_end));
        continue;
      }
      Target t;
      t.name = expect_name();
      if (t.name == "true" || t.name == "false" || t.name == "none" || t.name == "True" || t.name == "False" ||
          t.name == "None")
        fail("can't assign to constant '" + t.name + "'");
      items.push_back(std::move(t));
    }
    if (paren) {
      expect_op(")");
      if (items.size() != 1) is_tuple = true;
    }
    if (items.empty()) fail("expected assignment target, got '" + describe(cur()) + "'");
    if (!is_tuple) return std::move(items[0]);
    Target t;
    t.k = Target::K::Tuple;
    t.items = std::move(items);
    return t;
  }

  // ---- expressions ----

  bool is_tuple_end(const std::vector<std::string>& extra_end) const {
    if (cur().type == Tok::VarEnd || cur().type == Tok::BlockEnd || cur().type == Tok::Eof) return true;
    if (cur().type == Tok::Op && cur().text == ")") return true;
    return cur().type == Tok::Name && std::find(extra_end.begin(), extra_end.end(), cur().text) != extra_end.end();
  }

  ExprPtr parse_tuple(bool simplified, bool with_condexpr, const std::vector<std::string>& extra_end,
                      bool explicit_parens) {
    const Token start = cur();
    std::vector<ExprPtr> args;
    bool is_tuple = false;
    while (true) {
      if (!args.empty()) expect_op(",");
      if (is_tuple_end(extra_end)) break;
      if (simplified) args.push_back(parse_primary());
      else args.push_back(parse_expression(with_condexpr));
      if (is_op(",")) is_tuple = true;
      else break;
    }
    if (!is_tuple) {
      if (!args.empty()) return std::move(args[0]);
      if (!explicit_parens) fail("Expected an expression, got '" + describe(cur()) + "'");
    }
    auto e = make(Expr::K::Tuple, start);
    e->items = std::move(args);
    return finish(std::move(e));
  }

  ExprPtr parse_expression(bool with_condexpr) {
    DepthGuard guard(*this);
    return with_condexpr ? parse_condexpr() : parse_or();
  }

  ExprPtr parse_condexpr() {
    ExprPtr expr1 = parse_or();
    while (is_name("if")) {
      const Token tok = cur();
      next();
      ExprPtr expr2 = parse_or();
      ExprPtr expr3;
      if (is_name("else")) {
        next();
        expr3 = parse_condexpr();
      }
      auto e = make(Expr::K::Cond, tok);
      e->a = std::move(expr2);
      e->b = std::move(expr1);
      e->c = std::move(expr3);
      expr1 = finish(std::move(e));
    }
    return expr1;
  }

  ExprPtr parse_or() {
    ExprPtr left = parse_and();
    while (is_name("or")) {
      const Token tok = cur();
      next();
      auto e = make(Expr::K::Or, tok);
      e->a = std::move(left);
      e->b = parse_and();
      left = finish(std::move(e));
    }
    return left;
  }

  ExprPtr parse_and() {
    ExprPtr left = parse_not();
    while (is_name("and")) {
      const Token tok = cur();
      next();
      auto e = make(Expr::K::And, tok);
      e->a = std::move(left);
      e->b = parse_not();
      left = finish(std::move(e));
    }
    return left;
  }

  ExprPtr parse_not() {
    if (is_name("not")) {
      DepthGuard guard(*this);
      const Token tok = cur();
      next();
      auto e = make(Expr::K::Not, tok);
      e->a = parse_not();
      return finish(std::move(e));
    }
    return parse_compare();
  }

  ExprPtr parse_compare() {
    const Token start = cur();
    ExprPtr expr = parse_math1();
    std::vector<std::string> ops;
    std::vector<ExprPtr> operands;
    while (true) {
      if (cur().type == Tok::Op &&
          (cur().text == "==" || cur().text == "!=" || cur().text == "<" || cur().text == ">" || cur().text == "<=" ||
           cur().text == ">=")) {
        ops.push_back(cur().text);
        next();
      } else if (is_name("in")) {
        ops.push_back("in");
        next();
      } else if (is_name("not") && peek().type == Tok::Name && peek().text == "in") {
        ops.push_back("notin");
        next();
        next();
      } else {
        break;
      }
      operands.push_back(parse_math1());
    }
    if (ops.empty()) return expr;
    auto e = make(Expr::K::Compare, start);
    e->a = std::move(expr);
    e->ops = std::move(ops);
    e->items = std::move(operands);
    return finish(std::move(e));
  }

  ExprPtr binary(ExprPtr left, const Token& tok, ExprPtr right) {
    auto e = make(Expr::K::Binary, tok);
    e->name = tok.text;
    e->a = std::move(left);
    e->b = std::move(right);
    return finish(std::move(e));
  }

  ExprPtr parse_math1() {
    ExprPtr left = parse_concat();
    while (is_op("+") || is_op("-")) {
      const Token tok = cur();
      next();
      left = binary(std::move(left), tok, parse_concat());
    }
    return left;
  }

  ExprPtr parse_concat() {
    const Token start = cur();
    ExprPtr first = parse_math2();
    if (!is_op("~")) return first;
    auto e = make(Expr::K::Concat, start);
    e->items.push_back(std::move(first));
    while (is_op("~")) {
      next();
      e->items.push_back(parse_math2());
    }
    return finish(std::move(e));
  }

  ExprPtr parse_math2() {
    ExprPtr left = parse_pow();
    while (is_op("*") || is_op("/") || is_op("//") || is_op("%")) {
      const Token tok = cur();
      next();
      left = binary(std::move(left), tok, parse_pow());
    }
    return left;
  }

  ExprPtr parse_pow() {
    ExprPtr left = parse_unary(true);
    while (is_op("**")) {
      const Token tok = cur();
      next();
      left = binary(std::move(left), tok, parse_unary(true));
    }
    return left;
  }

  ExprPtr parse_unary(bool with_filter) {
    DepthGuard guard(*this);
    const Token tok = cur();
    ExprPtr node;
    if (is_op("-") || is_op("+")) {
      next();
      node = make(tok.text == "-" ? Expr::K::Neg : Expr::K::Pos, tok);
      node->a = parse_unary(false);
      node = finish(std::move(node));
    } else {
      node = parse_primary();
    }
    node = parse_postfix(std::move(node));
    if (with_filter) node = parse_filter_expr(std::move(node));
    return node;
  }

  ExprPtr parse_primary() {
    DepthGuard guard(*this);
    const Token tok = cur();
    switch (tok.type) {
      case Tok::Name: {
        next();
        const std::string& n = tok.text;
        if (n == "true" || n == "True" || n == "false" || n == "False") {
          auto e = make(Expr::K::Literal, tok);
          e->literal = Value::boolean(n == "true" || n == "True");
          return e;
        }
        if (n == "none" || n == "None") {
          auto e = make(Expr::K::Literal, tok);
          e->literal = Value::none();
          return e;
        }
        auto e = make(Expr::K::Name, tok);
        e->name = n;
        if (!macros_.empty()) {
          if (n == "varargs") macros_.back()->uses_varargs = true;
          if (n == "kwargs") macros_.back()->uses_kwargs = true;
          if (n == "caller") macros_.back()->uses_caller = true;
        }
        return e;
      }
      case Tok::String: {
        std::string s = tok.text;
        next();
        while (cur().type == Tok::String) {
          s += cur().text;
          next();
        }
        auto e = make(Expr::K::Literal, tok);
        e->literal = Value::string(std::move(s));
        return e;
      }
      case Tok::Int: {
        next();
        auto e = make(Expr::K::Literal, tok);
        e->literal = Value::integer(tok.ival);
        return e;
      }
      case Tok::Float: {
        next();
        auto e = make(Expr::K::Literal, tok);
        e->literal = Value::number(tok.fval);
        return e;
      }
      case Tok::Op:
        if (tok.text == "(") {
          next();
          ExprPtr e = parse_tuple(false, true, {}, true);
          expect_op(")");
          return e;
        }
        if (tok.text == "[") {
          next();
          auto e = make(Expr::K::List, tok);
          while (!is_op("]")) {
            if (!e->items.empty()) expect_op(",");
            if (is_op("]")) break;
            e->items.push_back(parse_expression(true));
          }
          next();
          return finish(std::move(e));
        }
        if (tok.text == "{") {
          next();
          auto e = make(Expr::K::Dict, tok);
          while (!is_op("}")) {
            if (!e->items.empty()) expect_op(",");
            if (is_op("}")) break;
            e->items.push_back(parse_expression(true));
            expect_op(":");
            e->items.push_back(parse_expression(true));
          }
          next();
          return finish(std::move(e));
        }
        break;
      default:
        break;
    }
    fail("unexpected '" + describe(tok) + "'");
  }

  ExprPtr parse_postfix(ExprPtr node) {
    while (true) {
      const Token tok = cur();
      if (is_op(".")) {
        next();
        if (cur().type == Tok::Name) {
          auto e = make(Expr::K::GetAttr, tok);
          e->a = std::move(node);
          e->name = cur().text;
          next();
          node = finish(std::move(e));
        } else if (cur().type == Tok::Int) {
          auto e = make(Expr::K::GetItem, tok);
          e->a = std::move(node);
          e->b = make(Expr::K::Literal, cur());
          e->b->literal = Value::integer(cur().ival);
          next();
          node = finish(std::move(e));
        } else {
          fail("expected name or number");
        }
      } else if (is_op("[")) {
        next();
        std::vector<ExprPtr> args;
        while (!is_op("]")) {
          if (!args.empty()) expect_op(",");
          if (is_op("]")) break;
          args.push_back(parse_subscribed());
        }
        next();
        auto e = make(Expr::K::GetItem, tok);
        e->a = std::move(node);
        if (args.empty()) fail_at(tok, "expected subscript expression");
        if (args.size() == 1) {
          e->b = std::move(args[0]);
        } else {
          e->b = make(Expr::K::Tuple, tok);
          e->b->items = std::move(args);
          e->b = finish(std::move(e->b));
        }
        node = finish(std::move(e));
      } else if (is_op("(")) {
        node = parse_call(std::move(node));
      } else {
        return node;
      }
    }
  }

  ExprPtr parse_subscribed() {
    const Token tok = cur();
    std::vector<ExprPtr> args;
    if (is_op(":")) {
      next();
      args.push_back(nullptr);
    } else {
      ExprPtr node = parse_expression(true);
      if (!is_op(":")) return node;
      next();
      args.push_back(std::move(node));
    }
    if (is_op(":")) {
      args.push_back(nullptr);
    } else if (!is_op("]") && !is_op(",")) {
      args.push_back(parse_expression(true));
    } else {
      args.push_back(nullptr);
    }
    if (is_op(":")) {
      next();
      if (!is_op("]") && !is_op(",")) args.push_back(parse_expression(true));
      else args.push_back(nullptr);
    } else {
      args.push_back(nullptr);
    }
    auto e = make(Expr::K::Slice, tok);
    e->items = std::move(args);
    return finish(std::move(e));
  }

  void parse_call_args(Expr& e) {
    expect_op("(");
    bool any = false;
    while (!is_op(")")) {
      if (any) expect_op(",");
      if (is_op(")")) break;
      any = true;
      if (is_op("*")) {
        next();
        e.star = parse_expression(true);
      } else if (is_op("**")) {
        next();
        e.dstar = parse_expression(true);
      } else if (cur().type == Tok::Name && peek().type == Tok::Op && peek().text == "=") {
        std::string key = cur().text;
        next();
        next();
        e.kwargs.emplace_back(key, parse_expression(true));
      } else {
        if (!e.kwargs.empty() || e.dstar) fail("positional argument follows keyword argument");
        e.items.push_back(parse_expression(true));
      }
    }
    next();
  }

  ExprPtr parse_call(ExprPtr node) {
    auto e = make(Expr::K::Call, cur());
    e->a = std::move(node);
    parse_call_args(*e);
    return finish(std::move(e));
  }

  // `| name(args) | name2 ...` applied to `input` (null for filter blocks).
  ExprPtr parse_filter_chain(ExprPtr input, bool start_with_pipe = true) {
    bool first = true;
    while (first ? (!start_with_pipe || is_op("|")) : is_op("|")) {
      if (!first || start_with_pipe) next();
      first = false;
      input = parse_one_filter(std::move(input));
    }
    return input;
  }

  ExprPtr parse_one_filter(ExprPtr input) {
    const Token tok = cur();
    std::string name = expect_name();
    while (is_op(".")) {
      next();
      name += "." + expect_name();
    }
    auto e = make(Expr::K::Filter, tok);
    e->name = name;
    e->a = std::move(input);
    if (is_op("(")) parse_call_args(*e);
    return finish(std::move(e));
  }

  ExprPtr parse_filter_expr(ExprPtr node) {
    while (true) {
      if (is_op("|")) {
        next();
        node = parse_one_filter(std::move(node));
      } else if (is_name("is")) {
        node = parse_test(std::move(node));
      } else if (is_op("(")) {
        node = parse_call(std::move(node));
      } else {
        return node;
      }
    }
  }

  ExprPtr parse_test(ExprPtr node) {
    const Token tok = cur();
    next();  // is
    bool negated = false;
    if (is_name("not")) {
      next();
      negated = true;
    }
    std::string name = expect_name();
    while (is_op(".")) {
      next();
      name += "." + expect_name();
    }
    auto e = make(Expr::K::Test, tok);
    e->name = name;
    e->negated = negated;
    e->a = std::move(node);
    if (is_op("(")) {
      parse_call_args(*e);
    } else if ((cur().type == Tok::Name || cur().type == Tok::String || cur().type == Tok::Int ||
                cur().type == Tok::Float || is_op("(") || is_op("[") || is_op("{")) &&
               !is_name("else") && !is_name("or") && !is_name("and")) {
      if (is_name("is")) fail("You cannot chain multiple tests with is");
      ExprPtr arg = parse_primary();
      e->items.push_back(parse_postfix(std::move(arg)));
    }
    return finish(std::move(e));
  }

  const std::vector<Token>& t_;
  const std::string& origin_;
  size_t pos_ = 0;
  int depth_ = 0;
  int loop_depth_ = 0;
  std::vector<std::string> open_;
  std::vector<Stmt*> macros_;
};

}  // namespace

Body parse_template(const std::vector<Token>& tokens, const std::string& origin) {
  return Parser(tokens, origin).parse_all();
}

}  // namespace g4::tpl
