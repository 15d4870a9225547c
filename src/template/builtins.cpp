// The template's global functions (range, namespace, dict, cycler, joiner, raise_exception,
// strftime_now) and the argument binding every builtin shares. Filters, tests, the str/dict/list
// methods and string formatting have their own builtins_*.cpp files.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <unordered_map>

#include "core/error.h"
#include "template/builtins.h"
#include "template/builtins_impl.h"
#include "template/interpreter.h"

namespace g4::tpl {

namespace detail {

// ---- argument binding -------------------------------------------------------------------------

Bound bind(const CallArgs& a, std::initializer_list<const char*> names, const std::string& fname) {
  std::vector<const char*> ns(names);
  Bound b;
  b.v.resize(ns.size());
  if (a.pos.size() > ns.size())
    throw Error(fname + "() takes at most " + std::to_string(ns.size()) + " argument(s) (" +
                std::to_string(a.pos.size()) + " given)");
  for (size_t i = 0; i < a.pos.size(); ++i) b.v[i] = a.pos[i];
  for (const auto& [k, val] : a.kw) {
    size_t i = 0;
    while (i < ns.size() && k != ns[i]) ++i;
    if (i == ns.size()) throw Error(fname + "() got an unexpected keyword argument '" + k + "'");
    if (b.v[i]) throw Error(fname + "() got multiple values for argument '" + k + "'");
    b.v[i] = val;
  }
  return b;
}

bool int_like(const Value& v) { return v.is_int() || v.is_bool(); }

int64_t to_int_arg(const Value& v, const std::string& what) {
  if (int_like(v)) return v.as_int();
  throw Error("'" + v.type_name() + "' object cannot be interpreted as an integer (" + what + ")");
}

std::string sval(const Value& v) { return to_str(v); }

Value str_list(const std::vector<std::string>& parts) {
  std::vector<Value> items;
  items.reserve(parts.size());
  for (const auto& p : parts) items.push_back(Value::string(p));
  return Value::list(std::move(items));
}

}  // namespace detail

using namespace detail;

namespace {

// ---- globals ------------------------------------------------------------------------------------

class Cycler : public Object {
 public:
  explicit Cycler(std::vector<Value> items) : items_(std::move(items)) {}
  std::string type_name() const override { return "Cycler"; }
  std::optional<Value> get_attr(const std::string& name) override {
    if (name == "current") return items_[pos_];
    if (name == "next") {
      return Value::function("next", [this](Interp&, CallArgs&) -> Value {
        Value v = items_[pos_];
        pos_ = (pos_ + 1) % items_.size();
        return v;
      });
    }
    if (name == "reset") {
      return Value::function("reset", [this](Interp&, CallArgs&) -> Value {
        pos_ = 0;
        return Value::none();
      });
    }
    if (name == "items") return Value::list(items_);
    return std::nullopt;
  }

 private:
  std::vector<Value> items_;
  size_t pos_ = 0;
};

class Joiner : public Object {
 public:
  explicit Joiner(std::string sep) : sep_(std::move(sep)) {}
  std::string type_name() const override { return "Joiner"; }
  bool callable() const override { return true; }
  Value call(Interp&, CallArgs&) override {
    if (!used_) {
      used_ = true;
      return Value::string("");
    }
    return Value::string(sep_);
  }

 private:
  std::string sep_;
  bool used_ = false;
};

Value g_range(Interp& in, CallArgs& a) {
  if (!a.kw.empty()) throw Error("range() takes no keyword arguments");
  if (a.pos.empty() || a.pos.size() > 3) throw Error("range expected 1 to 3 arguments, got " + std::to_string(a.pos.size()));
  int64_t start = 0, stop, step = 1;
  if (a.pos.size() == 1) {
    stop = to_int_arg(a.pos[0], "range");
  } else {
    start = to_int_arg(a.pos[0], "range");
    stop = to_int_arg(a.pos[1], "range");
    if (a.pos.size() == 3) step = to_int_arg(a.pos[2], "range");
  }
  if (step == 0) throw Error("range() arg 3 must not be zero");
  __int128 n = 0;
  if (step > 0 && stop > start) n = ((__int128)stop - start + step - 1) / step;
  if (step < 0 && stop < start) n = ((__int128)start - stop - step - 1) / (-(__int128)step);
  if (n > in.limits().max_range)
    throw Error("Range too big. The sandbox blocks ranges larger than MAX_RANGE (" +
                std::to_string(in.limits().max_range) + ").");
  std::vector<Value> out;
  out.reserve(static_cast<size_t>(n));
  for (int64_t i = 0; i < static_cast<int64_t>(n); ++i) out.push_back(Value::integer(start + i * step));
  return Value::list(std::move(out));
}

void fill_mapping(Interp& in, DictData& d, CallArgs& a, const char* fname) {
  if (a.pos.size() > 1) throw Error(std::string(fname) + " expected at most 1 argument, got " + std::to_string(a.pos.size()));
  if (!a.pos.empty()) {
    const Value& src = a.pos[0];
    if (src.is_dict() || src.is_namespace()) {
      for (const auto& [k, v] : src.dict_data().entries) d.set(k, v);
    } else {
      for (auto& pair : in.iterate(src)) {
        std::vector<Value> kv = in.iterate(pair);
        if (kv.size() != 2) throw Error("dictionary update sequence element has wrong length");
        d.set(kv[0], kv[1]);
      }
    }
  }
  for (auto& [k, v] : a.kw) d.set(k, v);
}

}  // namespace

void install_globals(DictData& g) {
  g.set("range", Value::function("range", g_range));
  g.set("namespace", Value::function("namespace", [](Interp& in, CallArgs& a) {
          Value ns = in.make_namespace();
          fill_mapping(in, ns.dict_data(), a, "namespace");
          return ns;
        }));
  g.set("dict", Value::function("dict", [](Interp& in, CallArgs& a) {
          Value d = Value::dict();
          fill_mapping(in, d.dict_data(), a, "dict");
          return d;
        }));
  g.set("cycler", Value::function("cycler", [](Interp&, CallArgs& a) {
          if (a.pos.empty()) throw Error("cycler() needs at least one item");
          return Value::object(std::make_shared<Cycler>(a.pos));
        }));
  g.set("joiner", Value::function("joiner", [](Interp&, CallArgs& a) {
          Bound b = bind(a, {"sep"}, "joiner");
          return Value::object(std::make_shared<Joiner>(b.has(0) ? sval(*b.get(0)) : ", "));
        }));
  g.set("raise_exception", Value::function("raise_exception", [](Interp&, CallArgs& a) -> Value {
          Bound b = bind(a, {"message"}, "raise_exception");
          throw TemplateRaise(b.has(0) ? sval(*b.get(0)) : "raise_exception() called");
        }));
  g.set("strftime_now", Value::function("strftime_now", [](Interp&, CallArgs& a) -> Value {
          Bound b = bind(a, {"format"}, "strftime_now");
          if (!b.has(0)) throw Error("strftime_now() missing required argument 'format'");
          std::string fmt = sval(*b.get(0));
          if (fmt.size() > 256) throw Error("strftime_now() format too long");
          std::time_t now = std::time(nullptr);
          std::tm tm{};
          localtime_r(&now, &tm);
          char buf[4096];
          size_t n = fmt.empty() ? 0 : std::strftime(buf, sizeof buf, fmt.c_str(), &tm);
          return Value::string(std::string(buf, n));
        }));
}

}  // namespace g4::tpl
