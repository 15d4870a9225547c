#include "template/interpreter.h"

#include <algorithm>
#include <cmath>

#include "template/builtins.h"

namespace g4::tpl {

[[noreturn]] void undefined_error(const Value& v) {
  throw Error(v.as_string().empty() ? std::string("undefined value") : v.as_string());
}

namespace {

[[noreturn]] void type_error(const std::string& op, const Value& a, const Value& b) {
  throw Error("unsupported operand type(s) for " + op + ": '" + a.type_name() + "' and '" + b.type_name() + "'");
}

bool int_like(const Value& v) { return v.is_int() || v.is_bool(); }

class MacroObject : public Object {
 public:
  MacroObject(const Stmt& def, ScopePtr closure, std::string name)
      : def_(def), closure_(std::move(closure)), name_(std::move(name)) {}
  std::string type_name() const override { return "Macro"; }
  bool callable() const override { return true; }
  Value call(Interp& interp, CallArgs& args) override {
    return Value::string(interp.render_macro(def_, closure_, args, name_));
  }
  std::optional<Value> get_attr(const std::string& name) override {
    if (name == "name") return Value::string(name_);
    if (name == "arguments") {
      std::vector<Value> ps;
      for (const auto& p : def_.params) ps.push_back(Value::string(p));
      return Value::list(std::move(ps), true);
    }
    if (name == "catch_kwargs") return Value::boolean(def_.uses_kwargs);
    if (name == "catch_varargs") return Value::boolean(def_.uses_varargs);
    if (name == "caller") return Value::boolean(def_.uses_caller);
    return std::nullopt;
  }

 private:
  const Stmt& def_;
  ScopePtr closure_;
  std::string name_;
};

class LoopObject : public Object {
 public:
  std::shared_ptr<std::vector<Value>> items;
  size_t index0 = 0;
  int depth = 1;
  const Stmt* stmt = nullptr;
  ScopePtr scope;  // where the loop statement runs, for recursive loops
  bool has_changed = false;
  Value last_changed;

  std::string type_name() const override { return "LoopContext"; }
  bool callable() const override { return stmt && stmt->recursive; }
  Value call(Interp& interp, CallArgs& args) override {
    if (!callable()) return Object::call(interp, args);
    if (args.pos.size() != 1) throw Error("loop() takes exactly one argument");
    return Value::string(interp.render_loop_recursive(*stmt, scope, args.pos[0], depth + 1));
  }
  std::optional<Value> get_attr(const std::string& name) override {
    const size_t n = items->size();
    if (name == "index") return Value::integer(static_cast<int64_t>(index0 + 1));
    if (name == "index0") return Value::integer(static_cast<int64_t>(index0));
    if (name == "revindex") return Value::integer(static_cast<int64_t>(n - index0));
    if (name == "revindex0") return Value::integer(static_cast<int64_t>(n - index0 - 1));
    if (name == "first") return Value::boolean(index0 == 0);
    if (name == "last") return Value::boolean(index0 + 1 == n);
    if (name == "length") return Value::integer(static_cast<int64_t>(n));
    if (name == "depth") return Value::integer(depth);
    if (name == "depth0") return Value::integer(depth - 1);
    if (name == "previtem")
      return index0 > 0 ? (*items)[index0 - 1] : Value::undefined("there is no previous item");
    if (name == "nextitem")
      return index0 + 1 < n ? (*items)[index0 + 1] : Value::undefined("there is no next item");
    if (name == "cycle") {
      size_t i = index0;
      return Value::function("cycle", [i](Interp&, CallArgs& a) -> Value {
        if (a.pos.empty()) throw Error("no items for cycling given");
        return a.pos[i % a.pos.size()];
      });
    }
    if (name == "changed") {
      LoopObject* self = this;
      return Value::function("changed", [self](Interp&, CallArgs& a) -> Value {
        Value v = Value::list(a.pos, true);
        if (!self->has_changed || !values_equal(self->last_changed, v)) {
          self->has_changed = true;
          self->last_changed = v;
          return Value::boolean(true);
        }
        return Value::boolean(false);
      });
    }
    return std::nullopt;
  }
};

struct Nest {
  int& n;
  Nest(int& counter, int limit) : n(counter) {
    if (++n > limit) {
      --n;
      throw Error("template nesting too deep (recursion limit)");
    }
  }
  ~Nest() { --n; }
};

constexpr int kMaxNesting = 1500;

}  // namespace

Interp::Interp(const TemplateLimits& limits, std::string origin) : limits_(limits), origin_(std::move(origin)) {}

void Interp::step() {
  if (++steps_ > limits_.max_steps)
    throw Error("template exceeded the step limit (" + std::to_string(limits_.max_steps) + " operations)");
}

void Interp::check_string(size_t bytes) const {
  if (bytes > limits_.max_output_bytes)
    throw Error("template output too large (limit " + std::to_string(limits_.max_output_bytes) + " bytes)");
}

void Interp::append(std::string& out, const std::string& s) const {
  check_string(out.size() + s.size());
  out += s;
}

Value Interp::make_namespace() {
  Value ns = Value::namespace_();
  keep_alive(ns.dict_ptr());
  return ns;
}

void Interp::keep_alive(const std::shared_ptr<DictData>& d) {
  namespaces_.push_back(d);
  if (namespaces_.size() >= 2 * prune_ns_at_) {
    // Drop namespaces nobody else holds; empty them first so that freeing never recurses deeply.
    std::vector<std::shared_ptr<DictData>> kept;
    for (auto& p : namespaces_) {
      if (p.use_count() == 1) {
        p->entries.clear();
        p->index.clear();
      }
    }
    for (auto& p : namespaces_)
      if (p.use_count() > 1) kept.push_back(p);
    namespaces_.clear();
    for (auto& p : kept) namespaces_.push_back(std::move(p));
    prune_ns_at_ = std::max<size_t>(64, namespaces_.size());
  }
}

void Interp::keep_alive(const ScopePtr& s) {
  scopes_.push_back(s);
  if (scopes_.size() >= 2 * prune_scopes_at_) {
    std::vector<ScopePtr> kept;
    for (auto& p : scopes_)
      if (p.use_count() == 1) p->vars.clear();
    for (auto& p : scopes_)
      if (p.use_count() > 1) kept.push_back(p);
    scopes_ = std::move(kept);
    prune_scopes_at_ = std::max<size_t>(64, scopes_.size());
  }
}

void Interp::release_all() {
  // Break reference cycles (macros stored in the scope they close over, namespaces holding each other).
  for (auto& p : namespaces_) {
    p->entries.clear();
    p->index.clear();
  }
  for (auto& s : scopes_) s->vars.clear();
  namespaces_.clear();
  scopes_.clear();
}

std::string Interp::render(const Body& body, const Value& context) {
  struct Cleanup {
    Interp& in;
    ~Cleanup() { in.release_all(); }
  } cleanup{*this};
  globals_ = std::make_shared<Scope>();
  DictData g;
  install_globals(g);
  for (auto& [k, v] : g.entries) globals_->vars[k.as_string()] = v;
  auto scope = std::make_shared<Scope>();
  scope->parent = globals_;
  if (context.is_dict())
    for (const auto& [k, v] : context.dict_data().entries)
      if (k.is_string()) scope->vars[k.as_string()] = v;
  keep_alive(scope);
  std::string out;
  exec_body(body, scope, out);
  return out;
}

// ---- statements -----------------------------------------------------------------------------------

Interp::Flow Interp::exec_body(const Body& body, const ScopePtr& scope, std::string& out) {
  for (const auto& s : body) {
    Flow f = exec(*s, scope, out);
    if (f != Flow::Normal) return f;
  }
  return Flow::Normal;
}

Interp::Flow Interp::exec(const Stmt& s, const ScopePtr& scope, std::string& out) {
  Nest nest(nest_, kMaxNesting);
  try {
    step();
    return exec_inner(s, scope, out);
  } catch (const LocatedError&) {
    throw;
  } catch (const TemplateRaise&) {
    throw;
  } catch (const Error& e) {
    throw LocatedError(origin_ + ":" + std::to_string(s.line) + ":" + std::to_string(s.col) + ": " + e.what());
  } catch (const std::bad_alloc&) {
    throw LocatedError(origin_ + ":" + std::to_string(s.line) + ":" + std::to_string(s.col) + ": out of memory");
  } catch (const std::length_error&) {
    throw LocatedError(origin_ + ":" + std::to_string(s.line) + ":" + std::to_string(s.col) + ": out of memory");
  }
}

Interp::Flow Interp::exec_inner(const Stmt& s, const ScopePtr& scope, std::string& out) {
  switch (s.k) {
    case Stmt::K::Text:
      append(out, s.text);
      return Flow::Normal;
    case Stmt::K::Output: {
      Value v = eval(*s.expr, scope);
      if (v.is_string()) append(out, v.as_string());
      else append(out, to_str(v));
      return Flow::Normal;
    }
    case Stmt::K::If:
      for (const auto& [cond, body] : s.branches)
        if (eval(*cond, scope).truthy()) return exec_body(body, scope, out);
      return exec_body(s.else_body, scope, out);
    case Stmt::K::For:
      exec_for(s, scope, out, eval(*s.expr, scope), 1);
      return Flow::Normal;
    case Stmt::K::Set:
      assign(s.target, eval(*s.expr, scope), scope);
      return Flow::Normal;
    case Stmt::K::SetBlock: {
      auto inner = std::make_shared<Scope>();
      inner->parent = scope;
      std::string captured;
      exec_body(s.body, inner, captured);
      Value v = Value::string(std::move(captured));
      if (s.expr) v = apply_filter_expr(*s.expr, scope, &v);
      assign(s.target, v, scope);
      return Flow::Normal;
    }
    case Stmt::K::Macro:
      scope->vars[s.name] = Value::object(std::make_shared<MacroObject>(s, scope, s.name));
      keep_alive(scope);
      return Flow::Normal;
    case Stmt::K::CallBlock: {
      const Expr& call = *s.expr;
      Value fn = eval(*call.a, scope);
      CallArgs args;
      eval_args(call, scope, args);
      args.kw.emplace_back("caller", Value::object(std::make_shared<MacroObject>(s, scope, "caller")));
      Value r = this->call(fn, args);
      append(out, to_str(r));
      return Flow::Normal;
    }
    case Stmt::K::FilterBlock: {
      auto inner = std::make_shared<Scope>();
      inner->parent = scope;
      std::string captured;
      exec_body(s.body, inner, captured);
      Value v = Value::string(std::move(captured));
      append(out, to_str(apply_filter_expr(*s.expr, scope, &v)));
      return Flow::Normal;
    }
    case Stmt::K::With: {
      auto inner = std::make_shared<Scope>();
      inner->parent = scope;
      std::vector<Value> vals;
      for (const auto& [t, e] : s.assigns) vals.push_back(eval(*e, scope));
      for (size_t i = 0; i < vals.size(); ++i) assign(s.assigns[i].first, vals[i], inner);
      return exec_body(s.body, inner, out);
    }
    case Stmt::K::Break:
      return Flow::Break;
    case Stmt::K::Continue:
      return Flow::Continue;
    case Stmt::K::Scope: {
      if (!s.name.empty()) {  // {% block %} gets its own scope
        auto inner = std::make_shared<Scope>();
        inner->parent = scope;
        return exec_body(s.body, inner, out);
      }
      return exec_body(s.body, scope, out);
    }
  }
  return Flow::Normal;
}

void Interp::exec_for(const Stmt& s, const ScopePtr& scope, std::string& out, const Value& iterable, int depth) {
  auto items = std::make_shared<std::vector<Value>>(iterate(iterable));
  if (s.cond) {
    std::vector<Value> kept;
    for (auto& item : *items) {
      auto tmp = std::make_shared<Scope>();
      tmp->parent = scope;
      assign(s.target, item, tmp);
      if (eval(*s.cond, tmp).truthy()) kept.push_back(item);
    }
    *items = std::move(kept);
  }
  if (items->empty()) {
    auto inner = std::make_shared<Scope>();
    inner->parent = scope;
    exec_body(s.else_body, inner, out);
    return;
  }
  auto loop = std::make_shared<LoopObject>();
  loop->items = items;
  loop->depth = depth;
  loop->stmt = &s;
  if (s.recursive) loop->scope = scope;
  Value loop_value = Value::object(loop);
  for (size_t i = 0; i < items->size(); ++i) {
    if (++iterations_ > limits_.max_loop_iterations)
      throw Error("template exceeded the loop iteration limit (" + std::to_string(limits_.max_loop_iterations) + ")");
    loop->index0 = i;
    auto inner = std::make_shared<Scope>();
    inner->parent = scope;
    inner->vars["loop"] = loop_value;
    assign(s.target, (*items)[i], inner);
    Flow f = exec_body(s.body, inner, out);
    if (f == Flow::Break) break;
  }
}

std::string Interp::render_loop_recursive(const Stmt& loop_stmt, const ScopePtr& scope, const Value& iterable,
                                          int depth) {
  if (++depth_ > limits_.max_call_depth) {
    --depth_;
    throw Error("maximum recursion depth exceeded (" + std::to_string(limits_.max_call_depth) + ")");
  }
  struct Dec {
    int& d;
    ~Dec() { --d; }
  } dec{depth_};
  std::string out;
  exec_for(loop_stmt, scope, out, iterable, depth);
  return out;
}

std::string Interp::render_macro(const Stmt& def, const ScopePtr& closure, CallArgs& args, const std::string& name) {
  if (++depth_ > limits_.max_call_depth) {
    --depth_;
    throw Error("maximum recursion depth exceeded (" + std::to_string(limits_.max_call_depth) + ")");
  }
  struct Dec {
    int& d;
    ~Dec() { --d; }
  } dec{depth_};
  auto scope = std::make_shared<Scope>();
  scope->parent = closure;
  const size_t np = def.params.size();
  if (args.pos.size() > np && !def.uses_varargs)
    throw Error("macro '" + name + "' takes not more than " + std::to_string(np) + " argument(s)");
  std::vector<bool> given(np, false);
  for (size_t i = 0; i < np && i < args.pos.size(); ++i) {
    scope->vars[def.params[i]] = args.pos[i];
    given[i] = true;
  }
  Value kwargs = Value::dict();
  for (auto& [k, v] : args.kw) {
    auto it = std::find(def.params.begin(), def.params.end(), k);
    if (it != def.params.end()) {
      size_t i = static_cast<size_t>(it - def.params.begin());
      if (given[i]) throw Error("macro '" + name + "' got multiple values for argument '" + k + "'");
      scope->vars[k] = v;
      given[i] = true;
    } else if (k == "caller") {
      scope->vars["caller"] = v;
    } else if (def.uses_kwargs) {
      kwargs.dict_data().set(k, v);
    } else {
      throw Error("macro '" + name + "' takes no keyword argument '" + k + "'");
    }
  }
  for (size_t i = 0; i < np; ++i) {
    if (given[i]) continue;
    if (i < def.defaults.size() && def.defaults[i]) scope->vars[def.params[i]] = eval(*def.defaults[i], scope);
    else scope->vars[def.params[i]] = Value::undefined("parameter '" + def.params[i] + "' was not provided");
  }
  if (def.uses_varargs) {
    std::vector<Value> extra;
    for (size_t i = np; i < args.pos.size(); ++i) extra.push_back(args.pos[i]);
    scope->vars["varargs"] = Value::list(std::move(extra), true);
  }
  if (def.uses_kwargs) scope->vars["kwargs"] = kwargs;
  if (def.uses_caller && !scope->vars.count("caller"))
    scope->vars["caller"] = Value::undefined("No caller defined");
  std::string out;
  exec_body(def.body, scope, out);
  return out;
}

void Interp::assign(const Target& t, const Value& v, const ScopePtr& scope) {
  switch (t.k) {
    case Target::K::Name:
      scope->vars[t.name] = v;
      return;
    case Target::K::Attr: {
      Value obj = lookup(t.name, scope);
      if (!obj.is_namespace()) throw Error("cannot assign attribute on non-namespace object");
      obj.dict_data().set(t.attr, v);
      return;
    }
    case Target::K::Tuple: {
      std::vector<Value> vals = iterate(v);
      if (vals.size() > t.items.size())
        throw Error("too many values to unpack (expected " + std::to_string(t.items.size()) + ")");
      if (vals.size() < t.items.size())
        throw Error("not enough values to unpack (expected " + std::to_string(t.items.size()) + ", got " +
                    std::to_string(vals.size()) + ")");
      for (size_t i = 0; i < vals.size(); ++i) assign(t.items[i], vals[i], scope);
      return;
    }
  }
}

// ---- expressions ----------------------------------------------------------------------------------

Value Interp::lookup(const std::string& name, const ScopePtr& scope) const {
  for (const Scope* s = scope.get(); s; s = s->parent.get()) {
    auto it = s->vars.find(name);
    if (it != s->vars.end()) return it->second;
  }
  return Value::undefined("'" + name + "' is undefined");
}

std::vector<Value> Interp::iterate(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::Undefined:
      return {};
    case Value::Kind::List:
      return v.items();
    case Value::Kind::Dict: {
      std::vector<Value> keys;
      keys.reserve(v.dict_data().size());
      for (const auto& [k, val] : v.dict_data().entries) keys.push_back(k);
      return keys;
    }
    case Value::Kind::String: {
      std::vector<Value> chars;
      for (uint32_t cp : utf8_decode(v.as_string())) {
        std::string c;
        utf8_append(c, cp);
        chars.push_back(Value::string(std::move(c)));
      }
      return chars;
    }
    default:
      throw Error("'" + v.type_name() + "' object is not iterable");
  }
}

Value Interp::call(const Value& fn, CallArgs& args) {
  if (fn.is_undefined()) undefined_error(fn);
  if (!fn.is_callable()) throw Error("'" + fn.type_name() + "' object is not callable");
  return fn.obj().call(*this, args);
}

Value Interp::getattr(const Value& obj, const std::string& name) {
  switch (obj.kind()) {
    case Value::Kind::Undefined:
      undefined_error(obj);
    case Value::Kind::Dict: {
      if (auto m = builtin_method(obj, name)) return *m;
      if (const Value* v = obj.dict_data().find(name)) return *v;
      return Value::undefined("'dict object' has no attribute '" + name + "'");
    }
    case Value::Kind::Namespace: {
      if (const Value* v = obj.dict_data().find(name)) return *v;
      return Value::undefined("'Namespace object' has no attribute '" + name + "'");
    }
    case Value::Kind::Object: {
      if (auto v = obj.obj().get_attr(name)) return *v;
      break;
    }
    case Value::Kind::List:
      if (obj.is_tuple() && obj.items().size() == 2) {  // groupby's (grouper, list) named tuples
        if (name == "grouper") return obj.items()[0];
        if (name == "list") return obj.items()[1];
      }
      [[fallthrough]];
    default:
      if (auto m = builtin_method(obj, name)) return *m;
      break;
  }
  return Value::undefined("'" + obj.type_name() + " object' has no attribute '" + name + "'");
}

Value Interp::getitem(const Value& obj, const Value& key) {
  switch (obj.kind()) {
    case Value::Kind::Undefined:
      undefined_error(obj);
    case Value::Kind::Dict: {
      if (const Value* v = obj.dict_data().find(key)) return *v;
      if (key.is_string()) {
        if (auto m = builtin_method(obj, key.as_string())) return *m;
      }
      return Value::undefined("'dict object' has no attribute " + to_repr(key));
    }
    case Value::Kind::List:
    case Value::Kind::String: {
      if (int_like(key)) {
        int64_t i = key.as_int();
        if (obj.is_list()) {
          int64_t n = static_cast<int64_t>(obj.items().size());
          if (i < 0) i += n;
          if (i >= 0 && i < n) return obj.items()[static_cast<size_t>(i)];
        } else {
          const std::string& s = obj.as_string();
          bool ascii = std::all_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; });
          if (ascii) {
            int64_t n = static_cast<int64_t>(s.size());
            if (i < 0) i += n;
            if (i >= 0 && i < n) return Value::string(std::string(1, s[static_cast<size_t>(i)]));
          } else {
            auto cps = utf8_decode(s);
            int64_t n = static_cast<int64_t>(cps.size());
            if (i < 0) i += n;
            if (i >= 0 && i < n) {
              std::string c;
              utf8_append(c, cps[static_cast<size_t>(i)]);
              return Value::string(c);
            }
          }
        }
        return Value::undefined(std::string("'") + obj.type_name() + " object' has no element " + to_repr(key));
      }
      if (key.is_string()) return getattr(obj, key.as_string());
      return Value::undefined(std::string("'") + obj.type_name() + " object' has no element " + to_repr(key));
    }
    default:
      if (key.is_string()) return getattr(obj, key.as_string());
      return Value::undefined(std::string("'") + obj.type_name() + " object' has no element " + to_repr(key));
  }
}

Value Interp::slice(const Value& obj, const Expr& sl, const ScopePtr& scope) {
  if (obj.is_undefined()) undefined_error(obj);
  Value parts[3];
  for (int i = 0; i < 3; ++i)
    if (sl.items[static_cast<size_t>(i)]) parts[i] = eval(*sl.items[static_cast<size_t>(i)], scope);
  auto get = [&](int i, bool& present) -> int64_t {
    present = !(parts[i].is_undefined() || parts[i].is_none());
    if (!present) return 0;
    if (!int_like(parts[i])) throw Error("slice indices must be integers or None");
    return parts[i].as_int();
  };
  bool has_start, has_stop, has_step;
  int64_t start = get(0, has_start), stop = get(1, has_stop), step = get(2, has_step);
  if (!has_step) step = 1;
  if (step == 0) throw Error("slice step cannot be zero");
  std::vector<uint32_t> cps;
  size_t len;
  if (obj.is_list()) {
    len = obj.items().size();
  } else if (obj.is_string()) {
    cps = utf8_decode(obj.as_string());
    len = cps.size();
  } else if (obj.is_dict()) {
    throw Error("unhashable type: 'slice'");
  } else {
    throw Error("'" + obj.type_name() + "' object is not subscriptable");
  }
  const int64_t n = static_cast<int64_t>(len);
  auto adjust = [&](int64_t v, bool present, int64_t dflt) -> int64_t {
    if (!present) return dflt;
    if (v < 0) {
      v += n;
      if (v < 0) v = step < 0 ? -1 : 0;
    } else if (v >= n) {
      v = step < 0 ? n - 1 : n;
    }
    return v;
  };
  start = adjust(start, has_start, step < 0 ? n - 1 : 0);
  stop = adjust(stop, has_stop, step < 0 ? -1 : n);
  std::vector<size_t> idx;
  if (step > 0)
    for (int64_t i = start; i < stop; i += step) idx.push_back(static_cast<size_t>(i));
  else
    for (int64_t i = start; i > stop; i += step) idx.push_back(static_cast<size_t>(i));
  if (obj.is_list()) {
    std::vector<Value> out;
    out.reserve(idx.size());
    for (size_t i : idx) out.push_back(obj.items()[i]);
    return Value::list(std::move(out), obj.is_tuple());
  }
  std::string out;
  for (size_t i : idx) utf8_append(out, cps[i]);
  return Value::string(std::move(out));
}

void Interp::eval_args(const Expr& e, const ScopePtr& scope, CallArgs& args) {
  for (const auto& a : e.items) args.pos.push_back(eval(*a, scope));
  if (e.star) {
    Value s = eval(*e.star, scope);
    for (auto& v : iterate(s)) args.pos.push_back(v);
  }
  for (const auto& [k, v] : e.kwargs) args.kw.emplace_back(k, eval(*v, scope));
  if (e.dstar) {
    Value d = eval(*e.dstar, scope);
    if (!d.is_dict()) throw Error("argument after ** must be a mapping, not " + d.type_name());
    for (const auto& [k, v] : d.dict_data().entries) args.kw.emplace_back(to_str(k), v);
  }
}

Value Interp::apply_filter_expr(const Expr& e, const ScopePtr& scope, const Value* input) {
  Value in = e.a ? (e.a->k == Expr::K::Filter && input ? apply_filter_expr(*e.a, scope, input) : eval(*e.a, scope))
                 : (input ? *input : Value());
  CallArgs args;
  eval_args(e, scope, args);
  return apply_filter(*this, e.name, in, args);
}

Value Interp::eval(const Expr& e, const ScopePtr& scope) {
  Nest nest(nest_, kMaxNesting);
  step();
  return eval_inner(e, scope);
}

Value Interp::eval_inner(const Expr& e, const ScopePtr& scope) {
  switch (e.k) {
    case Expr::K::Literal:
      return e.literal;
    case Expr::K::Name:
      return lookup(e.name, scope);
    case Expr::K::List:
    case Expr::K::Tuple: {
      std::vector<Value> items;
      items.reserve(e.items.size());
      for (const auto& i : e.items) items.push_back(eval(*i, scope));
      return Value::list(std::move(items), e.k == Expr::K::Tuple);
    }
    case Expr::K::Dict: {
      Value d = Value::dict();
      for (size_t i = 0; i + 1 < e.items.size(); i += 2) {
        Value k = eval(*e.items[i], scope);
        d.dict_data().set(k, eval(*e.items[i + 1], scope));
      }
      return d;
    }
    case Expr::K::GetAttr:
      return getattr(eval(*e.a, scope), e.name);
    case Expr::K::GetItem: {
      Value obj = eval(*e.a, scope);
      if (e.b->k == Expr::K::Slice) return slice(obj, *e.b, scope);
      return getitem(obj, eval(*e.b, scope));
    }
    case Expr::K::Slice:
      throw Error("unexpected slice");
    case Expr::K::Call: {
      Value fn = eval(*e.a, scope);
      CallArgs args;
      eval_args(e, scope, args);
      return call(fn, args);
    }
    case Expr::K::Filter:
      return apply_filter_expr(e, scope, nullptr);
    case Expr::K::Test: {
      Value v = eval(*e.a, scope);
      CallArgs args;
      eval_args(e, scope, args);
      bool r = apply_test(*this, e.name, v, args);
      return Value::boolean(e.negated ? !r : r);
    }
    case Expr::K::Neg:
    case Expr::K::Pos: {
      Value v = eval(*e.a, scope);
      if (v.is_undefined()) undefined_error(v);
      bool neg = e.k == Expr::K::Neg;
      if (int_like(v)) {
        if (!neg) return Value::integer(v.as_int());
        if (v.as_int() == INT64_MIN) throw Error("integer overflow");
        return Value::integer(-v.as_int());
      }
      if (v.is_float()) return Value::number(neg ? -v.as_float() : v.as_float());
      throw Error(std::string("bad operand type for unary ") + (neg ? "-" : "+") + ": '" + v.type_name() + "'");
    }
    case Expr::K::Not:
      return Value::boolean(!eval(*e.a, scope).truthy());
    case Expr::K::And: {
      Value a = eval(*e.a, scope);
      if (!a.truthy()) return a;
      return eval(*e.b, scope);
    }
    case Expr::K::Or: {
      Value a = eval(*e.a, scope);
      if (a.truthy()) return a;
      return eval(*e.b, scope);
    }
    case Expr::K::Binary:
      return binary(e.name, eval(*e.a, scope), eval(*e.b, scope));
    case Expr::K::Concat: {
      std::string s;
      for (const auto& i : e.items) {
        Value v = eval(*i, scope);
        std::string part = to_str(v);
        check_string(s.size() + part.size());
        s += part;
      }
      return Value::string(std::move(s));
    }
    case Expr::K::Compare: {
      Value left = eval(*e.a, scope);
      for (size_t i = 0; i < e.ops.size(); ++i) {
        Value right = eval(*e.items[i], scope);
        if (!compare(e.ops[i], left, right)) return Value::boolean(false);
        left = std::move(right);
      }
      return Value::boolean(true);
    }
    case Expr::K::Cond:
      if (eval(*e.a, scope).truthy()) return eval(*e.b, scope);
      if (e.c) return eval(*e.c, scope);
      return Value::undefined("the inline if-expression evaluated to false and no else section was defined");
  }
  return Value();
}

bool Interp::compare(const std::string& op, const Value& a, const Value& b) {
  if (op == "==") return values_equal(a, b);
  if (op == "!=") return !values_equal(a, b);
  if (op == "in" || op == "notin") {
    bool r;
    switch (b.kind()) {
      case Value::Kind::Undefined:
        r = false;
        break;
      case Value::Kind::String:
        if (!a.is_string())
          throw Error("'in <string>' requires string as left operand, not " + a.type_name());
        r = b.as_string().find(a.as_string()) != std::string::npos;
        break;
      case Value::Kind::List:
        r = std::any_of(b.items().begin(), b.items().end(), [&](const Value& x) { return values_equal(x, a); });
        break;
      case Value::Kind::Dict:
        if (a.is_list() && !a.is_tuple()) throw Error("unhashable type: 'list'");
        if (a.is_dict()) throw Error("unhashable type: 'dict'");
        r = b.dict_data().find(a) != nullptr;
        break;
      default:
        throw Error("argument of type '" + b.type_name() + "' is not iterable");
    }
    return op == "in" ? r : !r;
  }
  if (a.is_undefined()) undefined_error(a);
  if (b.is_undefined()) undefined_error(b);
  if (op == "<") return value_less(a, b);
  if (op == ">") return value_less(b, a);
  if (op == "<=") return !value_less(b, a);
  if (op == ">=") return !value_less(a, b);
  throw Error("unknown comparison " + op);
}

Value Interp::binary(const std::string& op, const Value& a, const Value& b) {
  if (a.is_undefined()) undefined_error(a);
  if (b.is_undefined()) undefined_error(b);
  const bool ints = int_like(a) && int_like(b);
  const bool nums = a.is_number() && b.is_number();
  if (op == "+") {
    if (ints) {
      int64_t r;
      if (__builtin_add_overflow(a.as_int(), b.as_int(), &r)) throw Error("integer overflow");
      return Value::integer(r);
    }
    if (nums) return Value::number(a.as_float() + b.as_float());
    if (a.is_string() && b.is_string()) {
      check_string(a.as_string().size() + b.as_string().size());
      return Value::string(a.as_string() + b.as_string());
    }
    if (a.is_list() && b.is_list() && a.is_tuple() == b.is_tuple()) {
      std::vector<Value> items = a.items();
      items.insert(items.end(), b.items().begin(), b.items().end());
      return Value::list(std::move(items), a.is_tuple());
    }
    if (a.is_string()) throw Error("can only concatenate str (not \"" + b.type_name() + "\") to str");
    type_error("+", a, b);
  }
  if (op == "-") {
    if (ints) {
      int64_t r;
      if (__builtin_sub_overflow(a.as_int(), b.as_int(), &r)) throw Error("integer overflow");
      return Value::integer(r);
    }
    if (nums) return Value::number(a.as_float() - b.as_float());
    type_error("-", a, b);
  }
  if (op == "*") {
    if (ints) {
      int64_t r;
      if (__builtin_mul_overflow(a.as_int(), b.as_int(), &r)) throw Error("integer overflow");
      return Value::integer(r);
    }
    if (nums) return Value::number(a.as_float() * b.as_float());
    const Value* seq = nullptr;
    const Value* cnt = nullptr;
    if ((a.is_string() || a.is_list()) && int_like(b)) seq = &a, cnt = &b;
    if ((b.is_string() || b.is_list()) && int_like(a)) seq = &b, cnt = &a;
    if (seq) {
      int64_t n = std::max<int64_t>(0, cnt->as_int());
      if (seq->is_string()) {
        const std::string& s = seq->as_string();
        if (n > 0 && !s.empty() && static_cast<uint64_t>(n) > limits_.max_output_bytes / s.size()) check_string(SIZE_MAX);
        std::string r;
        r.reserve(s.size() * static_cast<size_t>(n));
        for (int64_t i = 0; i < n; ++i) r += s;
        return Value::string(std::move(r));
      }
      const auto& items = seq->items();
      if (n > 0 && !items.empty() && static_cast<uint64_t>(n) > (limits_.max_output_bytes / 8) / items.size())
        throw Error("list repetition too large");
      std::vector<Value> r;
      for (int64_t i = 0; i < n; ++i) r.insert(r.end(), items.begin(), items.end());
      return Value::list(std::move(r), seq->is_tuple());
    }
    type_error("*", a, b);
  }
  if (op == "/") {
    if (!nums) type_error("/", a, b);
    if (b.as_float() == 0) throw Error("division by zero");
    return Value::number(a.as_float() / b.as_float());
  }
  if (op == "//") {
    if (!nums) type_error("//", a, b);
    if (ints) {
      int64_t x = a.as_int(), y = b.as_int();
      if (y == 0) throw Error("integer division or modulo by zero");
      if (x == INT64_MIN && y == -1) throw Error("integer overflow");
      int64_t q = x / y;
      if ((x % y != 0) && ((x < 0) != (y < 0))) --q;
      return Value::integer(q);
    }
    if (b.as_float() == 0) throw Error("float floor division by zero");
    double x = a.as_float(), y = b.as_float();
    double m = std::fmod(x, y);
    double div = (x - m) / y;
    if (m != 0 && ((y < 0) != (m < 0))) div -= 1.0;
    double fl = std::floor(div);
    if (div - fl > 0.5) fl += 1.0;
    return Value::number(fl);
  }
  if (op == "%") {
    if (a.is_string()) return Value::string(percent_format(*this, a.as_string(), b));
    if (!nums) type_error("%", a, b);
    if (ints) {
      int64_t x = a.as_int(), y = b.as_int();
      if (y == 0) throw Error("integer division or modulo by zero");
      if (y == -1) return Value::integer(0);
      int64_t m = x % y;
      if (m != 0 && ((m < 0) != (y < 0))) m += y;
      return Value::integer(m);
    }
    double x = a.as_float(), y = b.as_float();
    if (y == 0) throw Error("float modulo");
    double m = std::fmod(x, y);
    if (m != 0 && ((m < 0) != (y < 0))) m += y;
    else if (m == 0) m = std::copysign(0.0, y);
    return Value::number(m);
  }
  if (op == "**") {
    if (!nums) type_error("** or pow()", a, b);
    if (ints && b.as_int() >= 0) {
      int64_t base = a.as_int(), e = b.as_int(), r = 1;
      while (e > 0) {
        if (e & 1)
          if (__builtin_mul_overflow(r, base, &r)) throw Error("integer overflow");
        e >>= 1;
        if (e > 0 && __builtin_mul_overflow(base, base, &base)) throw Error("integer overflow");
      }
      return Value::integer(r);
    }
    if (a.as_float() == 0 && b.as_float() < 0) throw Error("0.0 cannot be raised to a negative power");
    return Value::number(std::pow(a.as_float(), b.as_float()));
  }
  throw Error("unknown operator " + op);
}

}  // namespace g4::tpl
