#pragma once
// The template evaluator: scopes, statements, expressions, macros, loops, and the sandbox limits.
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/error.h"
#include "template/ast.h"
#include "template/value.h"

namespace g4::tpl {

// Sandbox limits. A render that exceeds one throws g4::Error naming the limit.
struct TemplateLimits {
  uint64_t max_loop_iterations = 10'000'000;  // all loop iterations of one render together
  uint64_t max_steps = 200'000'000;           // evaluated expressions and statements
  int max_call_depth = 256;                   // nested macro calls / recursive loops
  size_t max_output_bytes = 64u << 20;        // the rendered text and any string built on the way
  int64_t max_range = 100'000;                // range() length (Jinja2's sandbox MAX_RANGE)
};

// Thrown by raise_exception(): the message is exactly the template's message.
class TemplateRaise : public Error {
 public:
  explicit TemplateRaise(const std::string& m) : Error(m) {}
};

// A runtime error that already carries "<origin>:<line>:<col>: ".
class LocatedError : public Error {
 public:
  explicit LocatedError(const std::string& m) : Error(m) {}
};

struct Scope {
  std::unordered_map<std::string, Value> vars;
  std::shared_ptr<Scope> parent;
};
using ScopePtr = std::shared_ptr<Scope>;

class Interp {
 public:
  Interp(const TemplateLimits& limits, std::string origin);

  std::string render(const Body& body, const Value& context);

  // ---- services for builtins ----
  Value call(const Value& fn, CallArgs& args);
  Value getattr(const Value& obj, const std::string& name);  // obj.name (Jinja2 env.getattr)
  Value getitem(const Value& obj, const Value& key);         // obj[key] (Jinja2 env.getitem)
  std::vector<Value> iterate(const Value& v);                // list(v)
  void check_string(size_t bytes) const;                     // output/string size limit
  void step();                                               // step limit
  const TemplateLimits& limits() const { return limits_; }
  Value make_namespace();  // namespace() objects live until the render ends

  // Used by macro and loop objects.
  std::string render_macro(const Stmt& def, const ScopePtr& closure, CallArgs& args, const std::string& name);
  std::string render_loop_recursive(const Stmt& loop_stmt, const ScopePtr& scope, const Value& iterable, int depth);

 private:
  enum class Flow { Normal, Break, Continue };

  Flow exec_body(const Body& body, const ScopePtr& scope, std::string& out);
  Flow exec(const Stmt& s, const ScopePtr& scope, std::string& out);
  Flow exec_inner(const Stmt& s, const ScopePtr& scope, std::string& out);
  void exec_for(const Stmt& s, const ScopePtr& scope, std::string& out, const Value& iterable, int depth);
  void assign(const Target& t, const Value& v, const ScopePtr& scope);
  void append(std::string& out, const std::string& s) const;

  Value eval(const Expr& e, const ScopePtr& scope);
  Value eval_inner(const Expr& e, const ScopePtr& scope);
  Value lookup(const std::string& name, const ScopePtr& scope) const;
  void eval_args(const Expr& e, const ScopePtr& scope, CallArgs& args);
  Value apply_filter_expr(const Expr& e, const ScopePtr& scope, const Value* input);
  Value binary(const std::string& op, const Value& a, const Value& b);
  bool compare(const std::string& op, const Value& a, const Value& b);
  Value slice(const Value& obj, const Expr& sl, const ScopePtr& scope);

  void keep_alive(const std::shared_ptr<DictData>& ns);
  void keep_alive(const ScopePtr& scope);
  void release_all();

  TemplateLimits limits_;
  std::string origin_;
  uint64_t iterations_ = 0;
  uint64_t steps_ = 0;
  int depth_ = 0;
  int nest_ = 0;
  ScopePtr globals_;
  // Everything that can take part in a reference cycle is held here and emptied when the render ends.
  std::vector<std::shared_ptr<DictData>> namespaces_;
  std::vector<ScopePtr> scopes_;
  size_t prune_ns_at_ = 64, prune_scopes_at_ = 64;
};

// Raises "'<name>' is undefined" style errors for operations on an Undefined value.
[[noreturn]] void undefined_error(const Value& v);

}  // namespace g4::tpl
