#pragma once
// Template values: the Python object model that Jinja2 templates see, reduced to what chat templates use.
//
//   Undefined, None, bool, int (int64), float (double), str (UTF-8), list / tuple, dict (insertion-ordered,
//   like Python 3.7+), namespace, and opaque objects (functions, macros, the `loop` variable, bound methods).
//
// Lists, dicts and namespaces are reference types (shared_ptr), as in Python. Printing follows Python's
// str()/repr(); tojson follows json.dumps(ensure_ascii=False) as transformers configures it.
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace g4::tpl {

class Value;
class Interp;

struct ListData {
  std::vector<Value> items;
  bool tuple = false;
  int depth = 1;  // nesting depth of lists/dicts inside, bounded so that destruction cannot overflow the stack
};

constexpr int kMaxValueDepth = 1000;

struct DictData;

// Positional and keyword arguments of a call.
struct CallArgs {
  std::vector<Value> pos;
  std::vector<std::pair<std::string, Value>> kw;
};

// Anything with attributes or a call operator that is not data: functions, macros, `loop`, cyclers.
class Object {
 public:
  virtual ~Object() = default;
  virtual std::string type_name() const = 0;
  virtual std::optional<Value> get_attr(const std::string& name);
  virtual bool callable() const { return false; }
  virtual Value call(Interp& interp, CallArgs& args);
};

class Value {
 public:
  enum class Kind : uint8_t { Undefined, None, Bool, Int, Float, String, List, Dict, Namespace, Object };

  Value() = default;  // Undefined
  static Value undefined(std::string hint = "") {
    Value v;
    v.str_ = std::move(hint);
    return v;
  }
  static Value none() { return Value(Kind::None); }
  static Value boolean(bool b) {
    Value v(Kind::Bool);
    v.int_ = b ? 1 : 0;
    return v;
  }
  static Value integer(int64_t i) {
    Value v(Kind::Int);
    v.int_ = i;
    return v;
  }
  static Value number(double d) {
    Value v(Kind::Float);
    v.float_ = d;
    return v;
  }
  static Value string(std::string s) {
    Value v(Kind::String);
    v.str_ = std::move(s);
    return v;
  }
  static Value list(std::vector<Value> items = {}, bool tuple = false);
  static Value dict();
  static Value dict(std::shared_ptr<DictData> d);
  static Value namespace_();
  static Value object(std::shared_ptr<Object> o) {
    Value v(Kind::Object);
    v.obj_ = std::move(o);
    return v;
  }
  static Value function(std::string name, std::function<Value(Interp&, CallArgs&)> fn);

  template <class J>
  static Value from_json(const J& j, int depth = 0);

  Kind kind() const { return kind_; }
  bool is_undefined() const { return kind_ == Kind::Undefined; }
  bool is_none() const { return kind_ == Kind::None; }
  bool is_bool() const { return kind_ == Kind::Bool; }
  bool is_int() const { return kind_ == Kind::Int; }
  bool is_float() const { return kind_ == Kind::Float; }
  bool is_number() const { return kind_ == Kind::Int || kind_ == Kind::Float || kind_ == Kind::Bool; }
  bool is_string() const { return kind_ == Kind::String; }
  bool is_list() const { return kind_ == Kind::List; }
  bool is_tuple() const { return kind_ == Kind::List && list_->tuple; }
  bool is_dict() const { return kind_ == Kind::Dict; }
  bool is_namespace() const { return kind_ == Kind::Namespace; }
  bool is_object() const { return kind_ == Kind::Object; }
  bool is_callable() const { return kind_ == Kind::Object && obj_->callable(); }

  bool as_bool() const { return int_ != 0; }
  int64_t as_int() const { return int_; }  // Int and Bool
  double as_float() const { return kind_ == Kind::Float ? float_ : static_cast<double>(int_); }
  const std::string& as_string() const { return str_; }  // String; for Undefined: the hint
  std::vector<Value>& items() const { return list_->items; }
  ListData& list_data() const { return *list_; }
  DictData& dict_data() const { return *dict_; }
  const std::shared_ptr<DictData>& dict_ptr() const { return dict_; }
  Object& obj() const { return *obj_; }
  const std::shared_ptr<Object>& obj_ptr() const { return obj_; }

  bool truthy() const;
  std::string type_name() const;  // Python's type name: 'str', 'int', 'dict', ...

 private:
  explicit Value(Kind k) : kind_(k) {}
  Kind kind_ = Kind::Undefined;
  int64_t int_ = 0;
  double float_ = 0;
  std::string str_;
  std::shared_ptr<ListData> list_;
  std::shared_ptr<DictData> dict_;
  std::shared_ptr<Object> obj_;
};

// Insertion-ordered dict keyed by hashable values (str, int, float, bool, None, tuples of those).
struct DictData {
  std::vector<std::pair<Value, Value>> entries;
  std::unordered_map<std::string, size_t> index;
  int depth = 1;

  const Value* find(const Value& key) const;
  const Value* find(const std::string& key) const;
  void set(const Value& key, Value value);
  void set(const std::string& key, Value value) { set(Value::string(key), std::move(value)); }
  size_t size() const { return entries.size(); }
};

// The hash key of a dict key; throws g4::Error for unhashable values (lists, dicts).
std::string hash_key(const Value& key);

// ---- Python semantics -------------------------------------------------------------------------

std::string to_str(const Value& v);   // str(v)
std::string to_repr(const Value& v);  // repr(v)
std::string python_float_repr(double d);
std::string python_string_repr(const std::string& s);
bool values_equal(const Value& a, const Value& b);
// Python ordering (<); throws g4::Error "'<' not supported between instances of ..." when unordered.
bool value_less(const Value& a, const Value& b);
// json.dumps(v, ensure_ascii=False, indent=indent (<0: None), sort_keys)
std::string to_json(const Value& v, int indent = -1, bool sort_keys = false,
                    const std::string& item_sep = "", const std::string& key_sep = "");
nlohmann::ordered_json to_ordered_json(const Value& v);

// ---- UTF-8 and Python str helpers ---------------------------------------------------------------

std::vector<uint32_t> utf8_decode(const std::string& s);
std::string utf8_encode(const std::vector<uint32_t>& cps);
void utf8_append(std::string& out, uint32_t cp);
size_t utf8_length(const std::string& s);
bool py_isspace(uint32_t cp);
uint32_t py_lower(uint32_t cp);
uint32_t py_upper(uint32_t cp);
bool py_isalpha(uint32_t cp);
bool py_isdigit(uint32_t cp);
std::string str_lower(const std::string& s);
std::string str_upper(const std::string& s);
// str.strip/lstrip/rstrip; chars == nullptr means whitespace.
std::string str_strip(const std::string& s, const std::string* chars, bool left, bool right);

[[noreturn]] void throw_too_deep();

// ---- JSON conversion ------------------------------------------------------------------------------

int value_depth(const Value& v);  // 0 for scalars, else the nesting depth of lists/dicts

template <class J>
Value Value::from_json(const J& j, int depth) {
  if (depth > kMaxValueDepth) throw_too_deep();
  switch (j.type()) {
    case J::value_t::null:
      return none();
    case J::value_t::boolean:
      return boolean(j.template get<bool>());
    case J::value_t::number_integer:
      return integer(j.template get<int64_t>());
    case J::value_t::number_unsigned: {
      uint64_t u = j.template get<uint64_t>();
      if (u <= static_cast<uint64_t>(INT64_MAX)) return integer(static_cast<int64_t>(u));
      return number(static_cast<double>(u));
    }
    case J::value_t::number_float:
      return number(j.template get<double>());
    case J::value_t::string:
      return string(j.template get<std::string>());
    case J::value_t::array: {
      std::vector<Value> items;
      items.reserve(j.size());
      for (const auto& e : j) items.push_back(from_json(e, depth + 1));
      return list(std::move(items));
    }
    case J::value_t::object: {
      Value d = dict();
      for (auto it = j.begin(); it != j.end(); ++it) d.dict_data().set(it.key(), from_json(it.value(), depth + 1));
      return d;
    }
    default:
      return none();
  }
}

}  // namespace g4::tpl
