#include "cli/args.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <sstream>

#include "cli/args_compat.h"
#include "core/error.h"

namespace g4::cli {

Args::Args(std::string command, std::string description)
    : command_(std::move(command)), description_(std::move(description)) {}

Args& Args::option(const std::string& name, const std::string& metavar, const std::string& help,
                   bool required, const std::string& default_value) {
  order_.push_back(name);
  specs_[name] = Spec{metavar, help, default_value, false, required};
  return *this;
}

Args& Args::flag(const std::string& name, const std::string& help) {
  order_.push_back(name);
  specs_[name] = Spec{"", help, "", true, false};
  return *this;
}

Args& Args::alias(const std::string& short_name, const std::string& long_name) {
  aliases_[short_name] = long_name;
  return *this;
}

std::string Args::help() const {
  std::ostringstream out;
  out << "usage: gemma4 " << command_ << " [options]\n\n" << description_ << "\n\noptions:\n";
  for (const auto& name : order_) {
    const Spec& s = specs_.at(name);
    std::string left = "  --" + name + (s.is_flag ? "" : " " + s.metavar);
    for (const auto& [a, l] : aliases_)
      if (l == name) left = "  -" + a + ", --" + name + (s.is_flag ? "" : " " + s.metavar);
    out << left;
    out << std::string(left.size() < 30 ? 30 - left.size() : 1, ' ') << s.help;
    if (s.required) out << " (required)";
    if (!s.default_value.empty()) out << " [default: " << s.default_value << "]";
    out << "\n";
  }
  out << "  -h, --help                  show this help\n";
  std::string compat;
  for (const CompatAlias& c : compat_aliases())
    if (specs_.count(c.target)) compat += std::string(" ") + c.spelling;
  if (!compat.empty()) out << "\nllama.cpp's spellings taken too:" << compat << "\n";
  return out.str();
}

Args& Args::after_parse(std::function<void(Args&)> fn) {
  after_parse_.push_back(std::move(fn));
  return *this;
}

bool Args::fail(const std::string& message) {
  std::fprintf(stderr, "gemma4 %s: %s\n", command_.c_str(), message.c_str());
  exit_code_ = 2;
  return false;
}

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

// The nearest spelling this command takes (its options, their short aliases and llama.cpp's spellings of
// them), when it is near enough to be a typo.
std::string Args::suggestion(const std::string& given) const {
  std::vector<std::string> known;
  for (const auto& name : order_) known.push_back("--" + name);
  for (const auto& [a, l] : aliases_) known.push_back("-" + a);
  for (const CompatAlias& c : compat_aliases())
    if (specs_.count(c.target)) known.push_back(c.spelling);
  std::string best;
  size_t best_d = SIZE_MAX;
  for (const std::string& k : known) {
    const size_t d = edit_distance(given, k);
    if (d < best_d) best_d = d, best = k;
  }
  const size_t bare = given.size() - given.find_first_not_of('-');
  return best_d <= std::max<size_t>(2, bare / 3) ? best : "";
}

bool Args::parse(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "-h" || a == "--help") {
      std::fputs(help().c_str(), stdout);
      exit_code_ = 0;
      return false;
    }
    if (a.size() < 2 || a[0] != '-') return fail("unexpected argument '" + a + "' (see --help)");
    std::string spelling = a, value;
    bool has_value = false;
    if (auto eq = a.find('='); eq != std::string::npos && a.rfind("--", 0) == 0) {
      spelling = a.substr(0, eq);
      value = a.substr(eq + 1);
      has_value = true;
    }
    std::string name;
    const CompatAlias* compat = find_compat_alias(spelling, [&](const std::string& n) { return specs_.count(n) > 0; });
    if (spelling.rfind("--", 0) == 0 && specs_.count(spelling.substr(2))) {
      name = spelling.substr(2);
    } else if (spelling[1] != '-' && aliases_.count(spelling.substr(1))) {
      name = aliases_.at(spelling.substr(1));
    } else if (compat) {
      name = compat->target;
      if (compat->value) {  // a flag standing for an option with a value: --no-mmap is --load read
        if (has_value) return fail("option '" + spelling + "' takes no value");
        values_[name] = compat->value;
        continue;
      }
    } else if (const IgnoredFlag* ign = find_ignored_flag(spelling)) {
      std::string shown = spelling;
      if (ign->takes_value && !has_value) {
        if (i + 1 >= argc) return fail("option '" + spelling + "' needs a value");
        shown += " " + std::string(argv[++i]);
      } else if (has_value) {
        shown += "=" + value;
      }
      if (ign->why) std::fprintf(stderr, "gemma4 %s: note: %s ignored: %s\n", command_.c_str(), shown.c_str(), ign->why);
      continue;
    } else {
      const std::string near = suggestion(spelling);
      return fail("unknown option '" + spelling + "'" + (near.empty() ? "" : " (did you mean " + near + "?)") +
                  " (see --help)");
    }
    auto it = specs_.find(name);
    if (it->second.is_flag) {
      if (has_value) return fail("option '--" + name + "' takes no value");
      values_[name] = "1";
      continue;
    }
    if (!has_value) {
      if (i + 1 >= argc) return fail("option '" + spelling + "' needs a value (" + it->second.metavar + ")");
      value = argv[++i];
    }
    values_[name] = value;
    all_values_[name].push_back(value);
  }
  for (const auto& [name, s] : specs_)
    if (s.required && !values_.count(name))
      return fail("missing required option --" + name + " " + s.metavar + " (see --help)");
  for (auto& fn : after_parse_) fn(*this);
  return true;
}

std::vector<std::string> Args::get_all(const std::string& name) const {
  auto it = all_values_.find(name);
  return it == all_values_.end() ? std::vector<std::string>{} : it->second;
}

bool Args::has(const std::string& name) const {
  if (values_.count(name)) return true;
  auto it = specs_.find(name);
  return it != specs_.end() && !it->second.is_flag && !it->second.default_value.empty();
}

std::string Args::get(const std::string& name) const {
  if (auto it = values_.find(name); it != values_.end()) return it->second;
  if (auto it = specs_.find(name); it != specs_.end()) return it->second.default_value;
  return "";
}

long long Args::get_int(const std::string& name) const {
  std::string v = get(name);
  char* end = nullptr;
  errno = 0;
  long long x = std::strtoll(v.c_str(), &end, 10);
  if (v.empty() || *end != '\0') throw Error("--" + name + ": expected an integer, got '" + v + "'");
  if (errno == ERANGE) throw Error("--" + name + ": " + v + " is out of range");
  return x;
}

double Args::get_double(const std::string& name) const {
  std::string v = get(name);
  char* end = nullptr;
  errno = 0;
  double x = std::strtod(v.c_str(), &end);
  if (v.empty() || *end != '\0') throw Error("--" + name + ": expected a number, got '" + v + "'");
  if (errno == ERANGE || !std::isfinite(x)) throw Error("--" + name + ": " + v + " is out of range");
  return x;
}

std::vector<long long> Args::get_int_list(const std::string& name) const {
  std::vector<long long> out;
  std::string v = get(name);
  std::stringstream ss(v);
  std::string item;
  while (std::getline(ss, item, ',')) {
    char* end = nullptr;
    errno = 0;
    long long x = std::strtoll(item.c_str(), &end, 10);
    if (item.empty() || *end != '\0' || errno == ERANGE)
      throw Error("--" + name + ": expected comma-separated integers like 2,17,99, got '" + v + "'");
    out.push_back(x);
  }
  return out;
}

}  // namespace g4::cli
