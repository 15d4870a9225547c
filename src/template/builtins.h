#pragma once
// Jinja2's filters, tests and global functions, Python's str/dict/list methods, and transformers'
// additions (raise_exception, strftime_now, the tojson override).
#include <optional>
#include <string>

#include "template/value.h"

namespace g4::tpl {

class Interp;

bool has_filter(const std::string& name);
bool has_test(const std::string& name);
Value apply_filter(Interp& in, const std::string& name, const Value& input, CallArgs& args);
bool apply_test(Interp& in, const std::string& name, const Value& v, CallArgs& args);

// A bound method of a str / dict / list value (e.g. "abc".upper), or nullopt when there is none.
std::optional<Value> builtin_method(const Value& obj, const std::string& name);

// range, namespace, dict, cycler, joiner, raise_exception, strftime_now.
void install_globals(DictData& globals);

// Python's "fmt % args".
std::string percent_format(Interp& in, const std::string& fmt, const Value& args);

}  // namespace g4::tpl
