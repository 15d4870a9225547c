#include "cli/args.h"

#include <cstdio>
#include <cstdlib>
#include <sstream>

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
  return out.str();
}

bool Args::parse(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "-h" || a == "--help") {
      std::fputs(help().c_str(), stdout);
      exit_code_ = 0;
      return false;
    }
    std::string name;
    if (a.rfind("--", 0) == 0) {
      name = a.substr(2);
    } else if (a.size() > 1 && a[0] == '-' && aliases_.count(a.substr(1))) {
      name = aliases_.at(a.substr(1));
    } else {
      std::fprintf(stderr, "gemma4 %s: unexpected argument '%s' (see --help)\n", command_.c_str(), a.c_str());
      exit_code_ = 2;
      return false;
    }
    std::string value;
    bool inline_value = false;
    if (auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      inline_value = true;
    }
    auto it = specs_.find(name);
    if (it == specs_.end()) {
      std::fprintf(stderr, "gemma4 %s: unknown option '--%s' (see --help)\n", command_.c_str(), name.c_str());
      exit_code_ = 2;
      return false;
    }
    if (it->second.is_flag) {
      values_[name] = "1";
      continue;
    }
    if (!inline_value) {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "gemma4 %s: option '--%s' needs a value (%s)\n", command_.c_str(), name.c_str(),
                     it->second.metavar.c_str());
        exit_code_ = 2;
        return false;
      }
      value = argv[++i];
    }
    values_[name] = value;
    all_values_[name].push_back(value);
  }
  for (const auto& [name, s] : specs_) {
    if (s.required && !values_.count(name)) {
      std::fprintf(stderr, "gemma4 %s: missing required option --%s %s (see --help)\n", command_.c_str(),
                   name.c_str(), s.metavar.c_str());
      exit_code_ = 2;
      return false;
    }
  }
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
  long long x = std::strtoll(v.c_str(), &end, 10);
  if (v.empty() || *end != '\0') throw Error("--" + name + ": expected an integer, got '" + v + "'");
  return x;
}

double Args::get_double(const std::string& name) const {
  std::string v = get(name);
  char* end = nullptr;
  double x = std::strtod(v.c_str(), &end);
  if (v.empty() || *end != '\0') throw Error("--" + name + ": expected a number, got '" + v + "'");
  return x;
}

std::vector<long long> Args::get_int_list(const std::string& name) const {
  std::vector<long long> out;
  std::string v = get(name);
  std::stringstream ss(v);
  std::string item;
  while (std::getline(ss, item, ',')) {
    char* end = nullptr;
    long long x = std::strtoll(item.c_str(), &end, 10);
    if (item.empty() || *end != '\0')
      throw Error("--" + name + ": expected comma-separated integers like 2,17,99, got '" + v + "'");
    out.push_back(x);
  }
  return out;
}

}  // namespace g4::cli
