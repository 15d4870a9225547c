// Jinja2's filters (and transformers' tojson override), by name.
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

using namespace detail;

namespace {

using FilterFn = Value (*)(Interp&, const Value&, CallArgs&);

// ---- attribute paths (map/sort/selectattr/... attribute=) -------------------------------------

Value attr_path(Interp& in, const Value& item, const Value& attribute) {
  if (int_like(attribute)) return in.getitem(item, attribute);
  const std::string a = sval(attribute);
  Value cur = item;
  size_t start = 0;
  while (true) {
    size_t d = a.find('.', start);
    std::string part = a.substr(start, d == std::string::npos ? std::string::npos : d - start);
    bool digits = !part.empty() && std::all_of(part.begin(), part.end(), [](char c) { return c >= '0' && c <= '9'; });
    if (digits) cur = in.getitem(cur, Value::integer(std::strtoll(part.c_str(), nullptr, 10)));
    else cur = in.getitem(cur, Value::string(part));
    if (d == std::string::npos) break;
    start = d + 1;
  }
  return cur;
}

Value lower_if_str(const Value& v, bool case_sensitive) {
  if (!case_sensitive && v.is_string()) return Value::string(str_lower(v.as_string()));
  return v;
}

std::vector<Value> seq_of(Interp& in, const Value& v) { return in.iterate(v); }

// ---- filters ----------------------------------------------------------------------------------

Value f_abs(Interp&, const Value& v, CallArgs& a) {
  bind(a, {}, "abs");
  if (int_like(v)) {
    if (v.as_int() == INT64_MIN) throw Error("integer overflow");
    return Value::integer(std::llabs(v.as_int()));
  }
  if (v.is_float()) return Value::number(std::fabs(v.as_float()));
  throw Error("bad operand type for abs(): '" + v.type_name() + "'");
}

Value f_attr(Interp& in, const Value& v, CallArgs& a) {
  Bound b = bind(a, {"name"}, "attr");
  if (!b.has(0)) throw Error("attr() missing required argument 'name'");
  std::string name = sval(*b.get(0));
  if (v.is_dict() || v.is_list() || v.is_string()) {  // Python attributes only, never items
    if (auto m = builtin_method(v, name)) return *m;
    return Value::undefined("'" + v.type_name() + " object' has no attribute '" + name + "'");
  }
  return in.getattr(v, name);
}

Value f_batch(Interp& in, const Value& v, CallArgs& a) {
  Bound b = bind(a, {"linecount", "fill_with"}, "batch");
  if (!b.has(0)) throw Error("batch() missing required argument 'linecount'");
  int64_t n = to_int_arg(*b.get(0), "batch");
  if (n <= 0) throw Error("batch size must be positive");
  std::vector<Value> items = seq_of(in, v), out, tmp;
  for (auto& x : items) {
    if (static_cast<int64_t>(tmp.size()) == n) {
      out.push_back(Value::list(std::move(tmp)));
      tmp.clear();
    }
    tmp.push_back(x);
  }
  if (!tmp.empty()) {
    if (b.has(1) && !b.get(1)->is_none())
      while (static_cast<int64_t>(tmp.size()) < n) tmp.push_back(*b.get(1));
    out.push_back(Value::list(std::move(tmp)));
  }
  return Value::list(std::move(out));
}

Value f_capitalize(Interp&, const Value& v, CallArgs& a) {
  bind(a, {}, "capitalize");
  return Value::string(py_capitalize(sval(v)));
}

Value f_center(Interp& in, const Value& v, CallArgs& a) {
  Bound b = bind(a, {"width"}, "center");
  return Value::string(pad_str(in, sval(v), b.has(0) ? to_int_arg(*b.get(0), "center") : 80, 'c'));
}

Value f_length(Interp&, const Value& v, CallArgs& a) {
  bind(a, {}, "length");
  switch (v.kind()) {
    case Value::Kind::Undefined:
      return Value::integer(0);
    case Value::Kind::String:
      return Value::integer(static_cast<int64_t>(utf8_length(v.as_string())));
    case Value::Kind::List:
      return Value::integer(static_cast<int64_t>(v.items().size()));
    case Value::Kind::Dict:
      return Value::integer(static_cast<int64_t>(v.dict_data().size()));
    default:
      throw Error("object of type '" + v.type_name() + "' has no len()");
  }
}

Value f_default(Interp&, const Value& v, CallArgs& a) {
  Bound b = bind(a, {"default_value", "boolean"}, "default");
  Value dflt = b.or_(0, Value::string(""));
  bool boolean = b.has(1) && b.get(1)->truthy();
  if (v.is_undefined() || (boolean && !v.truthy())) return dflt;
  return v;
}

Value f_dictsort(Interp& in, const Value& v, CallArgs& a) {
  Bound b = bind(a, {"case_sensitive", "by", "reverse"}, "dictsort");
  bool cs = b.has(0) && b.get(0)->truthy();
  std::string by = b.has(1) ? sval(*b.get(1)) : "key";
  bool rev = b.has(2) && b.get(2)->truthy();
  int pos;
  if (by == "key") pos = 0;
  else if (by == "value") pos = 1;
  else throw Error("You can only sort by either 'key' or 'value'");
  if (!v.is_dict()) {
    if (v.is_undefined()) undefined_error(v);
    throw Error("'" + v.type_name() + "' object has no attribute 'items'");
  }
  std::vector<Value> items;
  for (const auto& [k, val] : v.dict_data().entries) items.push_back(Value::list({k, val}, true));
  std::vector<Value> keys;
  for (auto& it : items) keys.push_back(lower_if_str(it.items()[static_cast<size_t>(pos)], cs));
  std::vector<size_t> idx(items.size());
  for (size_t i = 0; i < idx.size(); ++i) idx[i] = i;
  std::stable_sort(idx.begin(), idx.end(), [&](size_t x, size_t y) {
    return rev ? value_less(keys[y], keys[x]) : value_less(keys[x], keys[y]);
  });
  std::vector<Value> out;
  for (size_t i : idx) out.push_back(items[i]);
  (void)in;
  return Value::list(std::move(out));
}

Value f_escape(Interp&, const Value& v, CallArgs& a) {
  bind(a, {}, "escape");
  return Value::string(html_escape(sval(v)));
}

Value f_first(Interp& in, const Value& v, CallArgs& a) {
  bind(a, {}, "first");
  if (v.is_string()) {
    auto cps = utf8_decode(v.as_string());
    if (cps.empty()) return Value::undefined("No first item, sequence was empty.");
    std::string c;
    utf8_append(c, cps[0]);
    return Value::string(c);
  }
  std::vector<Value> items = seq_of(in, v);
  if (items.empty()) return Value::undefined("No first item, sequence was empty.");
  return items.front();
}

Value f_last(Interp& in, const Value& v, CallArgs& a) {
  bind(a, {}, "last");
  std::vector<Value> items = seq_of(in, v);
  if (items.empty()) return Value::undefined("No last item, sequence was empty.");
  return items.back();
}

Value f_float(Interp&, const Value& v, CallArgs& a) {
  Bound b = bind(a, {"default"}, "float");
  Value dflt = b.or_(0, Value::number(0.0));
  if (v.is_undefined()) undefined_error(v);
  if (v.is_number()) return Value::number(v.as_float());
  if (v.is_string()) {
    double d;
    if (parse_py_float(v.as_string(), d)) return Value::number(d);
  }
  return dflt;
}

Value f_int(Interp&, const Value& v, CallArgs& a) {
  Bound b = bind(a, {"default", "base"}, "int");
  Value dflt = b.or_(0, Value::integer(0));
  int base = b.has(1) ? static_cast<int>(to_int_arg(*b.get(1), "int")) : 10;
  if (v.is_undefined()) undefined_error(v);
  if (int_like(v)) return Value::integer(v.as_int());
  if (v.is_float()) {
    double d = v.as_float();
    if (!std::isfinite(d) || std::fabs(d) >= 9.2e18) return dflt;
    return Value::integer(static_cast<int64_t>(d));
  }
  if (v.is_string()) {
    int64_t i;
    if (parse_py_int(v.as_string(), base, i)) return Value::integer(i);
    double d;
    if (parse_py_float(v.as_string(), d) && std::isfinite(d) && std::fabs(d) < 9.2e18)
      return Value::integer(static_cast<int64_t>(d));
  }
  return dflt;
}

Value f_format(Interp& in, const Value& v, CallArgs& a) {
  if (!a.pos.empty() && !a.kw.empty()) throw Error("can't handle positional and keyword arguments at the same time");
  if (!a.kw.empty()) {
    Value d = Value::dict();
    for (auto& [k, val] : a.kw) d.dict_data().set(k, val);
    return Value::string(percent_format(in, sval(v), d));
  }
  return Value::string(percent_format(in, sval(v), Value::list(a.pos, true)));
}

Value f_groupby(Interp& in, const Value& v, CallArgs& a) {
  Bound b = bind(a, {"attribute", "default", "case_sensitive"}, "groupby");
  if (!b.has(0)) throw Error("groupby() missing required argument 'attribute'");
  bool cs = b.has(2) && b.get(2)->truthy();
  std::vector<Value> items = seq_of(in, v);
  std::vector<Value> keys;
  for (auto& it : items) {
    Value k = attr_path(in, it, *b.get(0));
    if (k.is_undefined() && b.has(1)) k = *b.get(1);
    keys.push_back(lower_if_str(k, cs));
  }
  std::vector<size_t> idx(items.size());
  for (size_t i = 0; i < idx.size(); ++i) idx[i] = i;
  std::stable_sort(idx.begin(), idx.end(), [&](size_t x, size_t y) { return value_less(keys[x], keys[y]); });
  std::vector<Value> out;
  size_t i = 0;
  while (i < idx.size()) {
    size_t j = i;
    std::vector<Value> group;
    while (j < idx.size() && values_equal(keys[idx[j]], keys[idx[i]])) group.push_back(items[idx[j++]]);
    Value grouper = keys[idx[i]];
    if (!cs) {
      Value orig = attr_path(in, items[idx[i]], *b.get(0));
      if (orig.is_undefined() && b.has(1)) orig = *b.get(1);
      grouper = orig;
    }
    out.push_back(Value::list({grouper, Value::list(std::move(group))}, true));
    i = j;
  }
  return Value::list(std::move(out));
}

Value f_indent(Interp& in, const Value& v, CallArgs& a) {
  Bound b = bind(a, {"width", "first", "blank"}, "indent");
  std::string ind;
  if (b.has(0) && b.get(0)->is_string()) {
    ind = b.get(0)->as_string();
  } else {
    int64_t w = b.has(0) ? to_int_arg(*b.get(0), "indent") : 4;
    in.check_string(static_cast<size_t>(std::max<int64_t>(0, w)));
    ind = std::string(static_cast<size_t>(std::max<int64_t>(0, w)), ' ');
  }
  bool first = b.has(1) && b.get(1)->truthy();
  bool blank = b.has(2) && b.get(2)->truthy();
  std::string s = sval(v) + "\n";
  std::vector<std::string> lines = py_splitlines(s, false);
  std::string rv;
  if (blank) {
    for (size_t i = 0; i < lines.size(); ++i) {
      if (i) rv += "\n" + ind;
      rv += lines[i];
      in.check_string(rv.size());
    }
  } else {
    rv = lines.empty() ? "" : lines[0];
    for (size_t i = 1; i < lines.size(); ++i) {
      rv += "\n";
      if (!lines[i].empty()) rv += ind;
      rv += lines[i];
      in.check_string(rv.size());
    }
  }
  if (first) rv = ind + rv;
  return Value::string(rv);
}

Value f_items(Interp&, const Value& v, CallArgs& a) {
  bind(a, {}, "items");
  if (v.is_undefined()) return Value::list();
  if (!v.is_dict()) throw Error("Can only get item pairs from a mapping.");
  std::vector<Value> out;
  for (const auto& [k, val] : v.dict_data().entries) out.push_back(Value::list({k, val}, true));
  return Value::list(std::move(out));
}

Value f_join(Interp& in, const Value& v, CallArgs& a) {
  Bound b = bind(a, {"d", "attribute"}, "join");
  std::string sep = b.has(0) ? sval(*b.get(0)) : "";
  std::string out;
  bool first = true;
  for (auto& item : seq_of(in, v)) {
    if (!first) out += sep;
    first = false;
    out += sval(b.has(1) && !b.get(1)->is_none() ? attr_path(in, item, *b.get(1)) : item);
    in.check_string(out.size());
  }
  return Value::string(out);
}

Value f_list(Interp& in, const Value& v, CallArgs& a) {
  bind(a, {}, "list");
  return Value::list(seq_of(in, v));
}

Value f_lower(Interp&, const Value& v, CallArgs& a) {
  bind(a, {}, "lower");
  return Value::string(str_lower(sval(v)));
}

Value f_upper(Interp&, const Value& v, CallArgs& a) {
  bind(a, {}, "upper");
  return Value::string(str_upper(sval(v)));
}

Value f_map(Interp& in, const Value& v, CallArgs& a) {
  std::vector<Value> items = seq_of(in, v);
  std::vector<Value> out;
  if (a.pos.empty()) {
    Value attribute, dflt;
    bool has_attr = false, has_default = false;
    for (auto& [k, val] : a.kw) {
      if (k == "attribute") attribute = val, has_attr = true;
      else if (k == "default") dflt = val, has_default = true;
      else throw Error("Unexpected keyword argument '" + k + "'");
    }
    if (!has_attr) throw Error("map requires a filter argument");
    for (auto& it : items) {
      Value r = attr_path(in, it, attribute);
      if (r.is_undefined() && has_default) r = dflt;
      out.push_back(r);
    }
    return Value::list(std::move(out));
  }
  std::string name = sval(a.pos[0]);
  CallArgs rest;
  rest.pos.assign(a.pos.begin() + 1, a.pos.end());
  rest.kw = a.kw;
  for (auto& it : items) {
    CallArgs copy = rest;
    out.push_back(apply_filter(in, name, it, copy));
  }
  return Value::list(std::move(out));
}

Value minmax(Interp& in, const Value& v, CallArgs& a, bool want_max, const char* name) {
  Bound b = bind(a, {"case_sensitive", "attribute"}, name);
  bool cs = b.has(0) && b.get(0)->truthy();
  std::vector<Value> items = seq_of(in, v);
  if (items.empty()) return Value::undefined("No aggregated item, sequence was empty.");
  auto key = [&](const Value& x) {
    Value k = b.has(1) && !b.get(1)->is_none() ? attr_path(in, x, *b.get(1)) : x;
    return lower_if_str(k, cs);
  };
  size_t best = 0;
  Value bk = key(items[0]);
  for (size_t i = 1; i < items.size(); ++i) {
    Value k = key(items[i]);
    if (want_max ? value_less(bk, k) : value_less(k, bk)) {
      best = i;
      bk = k;
    }
  }
  return items[best];
}

Value f_max(Interp& in, const Value& v, CallArgs& a) { return minmax(in, v, a, true, "max"); }
Value f_min(Interp& in, const Value& v, CallArgs& a) { return minmax(in, v, a, false, "min"); }

Value f_pprint(Interp&, const Value& v, CallArgs& a) {
  bind(a, {}, "pprint");
  return Value::string(to_repr(v));
}

Value select_impl(Interp& in, const Value& v, CallArgs& a, bool attr, bool keep_if) {
  std::vector<Value> items = seq_of(in, v);
  size_t off = 0;
  Value attribute;
  if (attr) {
    if (a.pos.empty()) throw Error("Missing parameter for attribute name");
    attribute = a.pos[0];
    off = 1;
  }
  std::vector<Value> out;
  for (auto& it : items) {
    Value x = attr ? attr_path(in, it, attribute) : it;
    bool r;
    if (a.pos.size() <= off) {
      r = x.truthy();
    } else {
      CallArgs targs;
      targs.pos.assign(a.pos.begin() + static_cast<long>(off) + 1, a.pos.end());
      targs.kw = a.kw;
      r = apply_test(in, sval(a.pos[off]), x, targs);
    }
    if (r == keep_if) out.push_back(it);
  }
  return Value::list(std::move(out));
}

Value f_select(Interp& in, const Value& v, CallArgs& a) { return select_impl(in, v, a, false, true); }
Value f_reject(Interp& in, const Value& v, CallArgs& a) { return select_impl(in, v, a, false, false); }
Value f_selectattr(Interp& in, const Value& v, CallArgs& a) { return select_impl(in, v, a, true, true); }
Value f_rejectattr(Interp& in, const Value& v, CallArgs& a) { return select_impl(in, v, a, true, false); }

Value f_replace(Interp& in, const Value& v, CallArgs& a) {
  Bound b = bind(a, {"old", "new", "count"}, "replace");
  if (!b.has(0) || !b.has(1)) throw Error("replace() missing required arguments");
  int64_t count = b.has(2) && !b.get(2)->is_none() ? to_int_arg(*b.get(2), "replace") : -1;
  return Value::string(py_replace(in, sval(v), sval(*b.get(0)), sval(*b.get(1)), count));
}

Value f_reverse(Interp& in, const Value& v, CallArgs& a) {
  bind(a, {}, "reverse");
  if (v.is_string()) {
    auto cps = utf8_decode(v.as_string());
    std::reverse(cps.begin(), cps.end());
    return Value::string(utf8_encode(cps));
  }
  std::vector<Value> items = seq_of(in, v);
  std::reverse(items.begin(), items.end());
  return Value::list(std::move(items));
}

Value f_round(Interp&, const Value& v, CallArgs& a) {
  Bound b = bind(a, {"precision", "method"}, "round");
  int64_t prec = b.has(0) ? to_int_arg(*b.get(0), "round") : 0;
  std::string method = b.has(1) ? sval(*b.get(1)) : "common";
  if (method != "common" && method != "ceil" && method != "floor")
    throw Error("method must be 'common', 'ceil' or 'floor'");
  if (!v.is_number()) throw Error("type " + v.type_name() + " doesn't define __round__ method");
  if (method == "common") {
    if (int_like(v)) {
      if (prec >= 0) return Value::integer(v.as_int());
      if (prec < -18) return Value::integer(0);
      int64_t p = 1;
      for (int64_t i = 0; i < -prec; ++i) p *= 10;
      int64_t x = v.as_int();
      int64_t q = x / p, r = x % p;
      if (r < 0) r += p, q -= 1;
      if (2 * r > p || (2 * r == p && (q % 2 != 0))) q += 1;
      return Value::integer(q * p);
    }
    return Value::number(py_round(v.as_float(), prec));
  }
  double p = std::pow(10.0, static_cast<double>(prec));
  double x = v.as_float() * p;
  double r = method == "ceil" ? std::ceil(x) : std::floor(x);
  return Value::number(r / p);
}

Value f_safe(Interp&, const Value& v, CallArgs& a) {
  bind(a, {}, "safe");
  return v;
}

Value f_slice(Interp& in, const Value& v, CallArgs& a) {
  Bound b = bind(a, {"slices", "fill_with"}, "slice");
  if (!b.has(0)) throw Error("slice() missing required argument 'slices'");
  int64_t slices = to_int_arg(*b.get(0), "slice");
  if (slices <= 0) throw Error("slices must be positive");
  if (slices > 100000) throw Error("too many slices");
  std::vector<Value> seq = seq_of(in, v);
  int64_t length = static_cast<int64_t>(seq.size());
  int64_t per = length / slices, extra = length % slices, offset = 0;
  std::vector<Value> out;
  for (int64_t n = 0; n < slices; ++n) {
    int64_t start = offset + n * per;
    if (n < extra) ++offset;
    int64_t end = offset + (n + 1) * per;
    std::vector<Value> tmp(seq.begin() + start, seq.begin() + end);
    if (b.has(1) && !b.get(1)->is_none() && n >= extra) tmp.push_back(*b.get(1));
    out.push_back(Value::list(std::move(tmp)));
  }
  return Value::list(std::move(out));
}

Value f_sort(Interp& in, const Value& v, CallArgs& a) {
  Bound b = bind(a, {"reverse", "case_sensitive", "attribute"}, "sort");
  bool rev = b.has(0) && b.get(0)->truthy();
  bool cs = b.has(1) && b.get(1)->truthy();
  std::vector<Value> items = seq_of(in, v);
  std::vector<Value> keys;
  for (auto& it : items) {
    Value k = b.has(2) && !b.get(2)->is_none() ? attr_path(in, it, *b.get(2)) : it;
    keys.push_back(lower_if_str(k, cs));
  }
  std::vector<size_t> idx(items.size());
  for (size_t i = 0; i < idx.size(); ++i) idx[i] = i;
  std::stable_sort(idx.begin(), idx.end(), [&](size_t x, size_t y) {
    return rev ? value_less(keys[y], keys[x]) : value_less(keys[x], keys[y]);
  });
  std::vector<Value> out;
  for (size_t i : idx) out.push_back(items[i]);
  return Value::list(std::move(out));
}

Value f_string(Interp&, const Value& v, CallArgs& a) {
  bind(a, {}, "string");
  return Value::string(sval(v));
}

Value f_striptags(Interp&, const Value& v, CallArgs& a) {
  bind(a, {}, "striptags");
  std::string s = sval(v), out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s.compare(i, 4, "<!--") == 0) {
      size_t e = s.find("-->", i + 4);
      if (e == std::string::npos) break;
      i = e + 2;
    } else if (s[i] == '<') {
      size_t e = s.find('>', i + 1);
      if (e == std::string::npos) {
        out += s.substr(i);
        break;
      }
      i = e;
    } else {
      out += s[i];
    }
  }
  std::vector<std::string> words = py_split(out, nullptr, -1, false);
  std::string joined;
  for (size_t i = 0; i < words.size(); ++i) joined += (i ? " " : "") + words[i];
  static const std::pair<const char*, const char*> ents[] = {{"&lt;", "<"},   {"&gt;", ">"},  {"&quot;", "\""},
                                                             {"&#34;", "\""}, {"&#39;", "'"}, {"&amp;", "&"}};
  for (auto& [from, to] : ents) {
    std::string r;
    size_t p = 0;
    while (true) {
      size_t f = joined.find(from, p);
      if (f == std::string::npos) break;
      r += joined.substr(p, f - p) + to;
      p = f + std::char_traits<char>::length(from);
    }
    joined = r + joined.substr(p);
  }
  return Value::string(joined);
}

Value f_sum(Interp& in, const Value& v, CallArgs& a) {
  Bound b = bind(a, {"attribute", "start"}, "sum");
  Value total = b.or_(1, Value::integer(0));
  for (auto& it : seq_of(in, v)) {
    Value x = b.has(0) && !b.get(0)->is_none() ? attr_path(in, it, *b.get(0)) : it;
    if (total.is_number() && x.is_number()) {
      if (int_like(total) && int_like(x)) {
        int64_t r;
        if (__builtin_add_overflow(total.as_int(), x.as_int(), &r)) throw Error("integer overflow");
        total = Value::integer(r);
      } else {
        total = Value::number(total.as_float() + x.as_float());
      }
    } else if (total.is_list() && x.is_list()) {
      std::vector<Value> items = total.items();
      items.insert(items.end(), x.items().begin(), x.items().end());
      total = Value::list(std::move(items));
    } else {
      throw Error("unsupported operand type(s) for +: '" + total.type_name() + "' and '" + x.type_name() + "'");
    }
  }
  return total;
}

Value f_title(Interp&, const Value& v, CallArgs& a) {
  bind(a, {}, "title");
  return Value::string(jinja_title(sval(v)));
}

std::string ascii_json(const std::string& s) {  // ensure_ascii=True post-processing of a JSON text
  std::string out;
  for (uint32_t cp : utf8_decode(s)) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
      continue;
    }
    char buf[16];
    if (cp >= 0x10000) {
      uint32_t v = cp - 0x10000;
      std::snprintf(buf, sizeof buf, "\\u%04x\\u%04x", 0xD800 + (v >> 10), 0xDC00 + (v & 0x3FF));
    } else {
      std::snprintf(buf, sizeof buf, "\\u%04x", cp);
    }
    out += buf;
  }
  return out;
}

Value f_tojson(Interp& in, const Value& v, CallArgs& a) {
  // transformers: tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False)
  Bound b = bind(a, {"ensure_ascii", "indent", "separators", "sort_keys"}, "tojson");
  bool ascii = b.has(0) && b.get(0)->truthy();
  int indent = -1;
  if (b.has(1) && !b.get(1)->is_none()) {
    int64_t i = to_int_arg(*b.get(1), "tojson indent");
    indent = static_cast<int>(std::clamp<int64_t>(i, 0, 64));
  }
  std::string item_sep, key_sep;
  if (b.has(2) && !b.get(2)->is_none()) {
    std::vector<Value> seps = in.iterate(*b.get(2));
    if (seps.size() != 2) throw Error("separators must be an (item_separator, key_separator) pair");
    item_sep = sval(seps[0]);
    key_sep = sval(seps[1]);
    if (item_sep.empty()) item_sep = std::string(1, '\0');
    if (key_sep.empty()) key_sep = std::string(1, '\0');
  }
  bool sort = b.has(3) && b.get(3)->truthy();
  std::string s = to_json(v, indent, sort, item_sep, key_sep);
  if (b.has(2) && !b.get(2)->is_none()) s.erase(std::remove(s.begin(), s.end(), '\0'), s.end());
  in.check_string(s.size());
  return Value::string(ascii ? ascii_json(s) : s);
}

Value f_trim(Interp&, const Value& v, CallArgs& a) {
  Bound b = bind(a, {"chars"}, "trim");
  if (b.has(0) && !b.get(0)->is_none()) {
    std::string chars = sval(*b.get(0));
    return Value::string(str_strip(sval(v), &chars, true, true));
  }
  return Value::string(str_strip(sval(v), nullptr, true, true));
}

Value f_truncate(Interp&, const Value& v, CallArgs& a) {
  Bound b = bind(a, {"length", "killwords", "end", "leeway"}, "truncate");
  int64_t length = b.has(0) ? to_int_arg(*b.get(0), "truncate") : 255;
  bool killwords = b.has(1) && b.get(1)->truthy();
  std::string end = b.has(2) ? sval(*b.get(2)) : "...";
  int64_t leeway = b.has(3) && !b.get(3)->is_none() ? to_int_arg(*b.get(3), "truncate") : 5;
  auto cps = utf8_decode(sval(v));
  int64_t endlen = static_cast<int64_t>(utf8_length(end));
  if (length < endlen) throw Error("expected length >= " + std::to_string(endlen) + ", got " + std::to_string(length));
  if (leeway < 0) throw Error("expected leeway >= 0, got " + std::to_string(leeway));
  if (static_cast<int64_t>(cps.size()) <= length + leeway) return Value::string(sval(v));
  std::string head = utf8_encode(std::vector<uint32_t>(cps.begin(), cps.begin() + (length - endlen)));
  if (killwords) return Value::string(head + end);
  size_t sp = head.rfind(' ');
  if (sp != std::string::npos) head = head.substr(0, sp);
  return Value::string(head + end);
}

Value f_unique(Interp& in, const Value& v, CallArgs& a) {
  Bound b = bind(a, {"case_sensitive", "attribute"}, "unique");
  bool cs = b.has(0) && b.get(0)->truthy();
  std::vector<Value> out;
  std::vector<std::string> seen;
  std::unordered_map<std::string, bool> seen_set;
  for (auto& it : seq_of(in, v)) {
    Value k = b.has(1) && !b.get(1)->is_none() ? attr_path(in, it, *b.get(1)) : it;
    std::string h = hash_key(lower_if_str(k, cs));
    if (seen_set.emplace(h, true).second) out.push_back(it);
  }
  return Value::list(std::move(out));
}

std::string url_quote(const std::string& s, bool for_qs) {
  std::string out;
  for (unsigned char c : s) {
    if (isalnum(c) || c == '_' || c == '.' || c == '-' || c == '~' || (!for_qs && c == '/')) {
      out += static_cast<char>(c);
    } else if (for_qs && c == ' ') {
      out += '+';
    } else {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      out += buf;
    }
  }
  return out;
}

Value f_urlencode(Interp& in, const Value& v, CallArgs& a) {
  bind(a, {}, "urlencode");
  if (v.is_string()) return Value::string(url_quote(v.as_string(), false));
  std::vector<std::pair<Value, Value>> pairs;
  if (v.is_dict()) {
    pairs = v.dict_data().entries;
  } else if (v.is_list()) {
    for (auto& p : v.items()) {
      std::vector<Value> kv = in.iterate(p);
      if (kv.size() != 2) throw Error("urlencode expects pairs");
      pairs.emplace_back(kv[0], kv[1]);
    }
  } else {
    return Value::string(url_quote(sval(v), false));
  }
  std::string out;
  for (size_t i = 0; i < pairs.size(); ++i) {
    if (i) out += "&";
    out += url_quote(sval(pairs[i].first), true) + "=" + url_quote(sval(pairs[i].second), true);
  }
  return Value::string(out);
}

Value f_wordcount(Interp&, const Value& v, CallArgs& a) {
  bind(a, {}, "wordcount");
  int64_t n = 0;
  bool in_word = false;
  for (uint32_t c : utf8_decode(sval(v))) {
    bool w = py_isalpha(c) || py_isdigit(c) || c == '_' || (c >= 0x80 && !py_isspace(c));
    if (w && !in_word) ++n;
    in_word = w;
  }
  return Value::integer(n);
}

Value f_unsupported(Interp&, const Value&, CallArgs&) {
  throw Error("this Jinja2 filter is not supported by gemma4's template engine");
}

const std::unordered_map<std::string, FilterFn>& filter_table() {
  static const std::unordered_map<std::string, FilterFn> t = {
      {"abs", f_abs},
      {"attr", f_attr},
      {"batch", f_batch},
      {"capitalize", f_capitalize},
      {"center", f_center},
      {"count", f_length},
      {"d", f_default},
      {"default", f_default},
      {"dictsort", f_dictsort},
      {"e", f_escape},
      {"escape", f_escape},
      {"forceescape", f_escape},
      {"first", f_first},
      {"float", f_float},
      {"format", f_format},
      {"groupby", f_groupby},
      {"indent", f_indent},
      {"int", f_int},
      {"items", f_items},
      {"join", f_join},
      {"last", f_last},
      {"length", f_length},
      {"list", f_list},
      {"lower", f_lower},
      {"map", f_map},
      {"max", f_max},
      {"min", f_min},
      {"pprint", f_pprint},
      {"reject", f_reject},
      {"rejectattr", f_rejectattr},
      {"replace", f_replace},
      {"reverse", f_reverse},
      {"round", f_round},
      {"safe", f_safe},
      {"select", f_select},
      {"selectattr", f_selectattr},
      {"slice", f_slice},
      {"sort", f_sort},
      {"string", f_string},
      {"striptags", f_striptags},
      {"sum", f_sum},
      {"title", f_title},
      {"tojson", f_tojson},
      {"trim", f_trim},
      {"truncate", f_truncate},
      {"unique", f_unique},
      {"upper", f_upper},
      {"urlencode", f_urlencode},
      {"wordcount", f_wordcount},
      {"filesizeformat", f_unsupported},
      {"random", f_unsupported},
      {"urlize", f_unsupported},
      {"wordwrap", f_unsupported},
      {"xmlattr", f_unsupported},
  };
  return t;
}

}  // namespace

bool has_filter(const std::string& name) { return filter_table().count(name) != 0; }

Value apply_filter(Interp& in, const std::string& name, const Value& input, CallArgs& args) {
  auto& t = filter_table();
  auto it = t.find(name);
  if (it == t.end()) throw Error("No filter named '" + name + "'.");
  return it->second(in, input, args);
}

}  // namespace g4::tpl
