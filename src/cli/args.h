#pragma once
// A small, strict command-line parser: declared options only, clear errors, generated --help.
//
//   Args args("logits", "Compute prompt logits.");
//   args.option("model", "PATH", "model folder or file", /*required=*/true);
//   args.flag("greedy", "always take the most likely token");
//   if (!args.parse(argc, argv)) return args.exit_code();   // printed help or an error
//   std::string model = args.get("model");
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace g4::cli {

class Args {
 public:
  Args(std::string command, std::string description);

  Args& option(const std::string& name, const std::string& metavar, const std::string& help,
               bool required = false, const std::string& default_value = "");
  Args& flag(const std::string& name, const std::string& help);
  // A short alias, e.g. alias("p", "prompt") makes -p mean --prompt.
  Args& alias(const std::string& short_name, const std::string& long_name);

  // Runs after a successful parse, in the order added (e.g. resolving --model); may call set() and throw
  // g4::Error.
  Args& after_parse(std::function<void(Args&)> fn);
  void set(const std::string& name, const std::string& value) { values_[name] = value; }

  // Returns false when the caller should exit with exit_code() (help printed: 0, error: 2).
  // Besides the declared options it takes llama.cpp's spellings of them (-m, -c, --ctx-size, -n, --temp, ...;
  // see args_compat.cpp), notes on stderr llama.cpp flags that do not apply here (-ngl, --mlock, ...), and
  // answers an unknown option with the nearest known one.
  bool parse(int argc, char** argv);
  int exit_code() const { return exit_code_; }

  bool has(const std::string& name) const;  // option given (or has a default) / flag set
  std::string get(const std::string& name) const;
  long long get_int(const std::string& name) const;
  double get_double(const std::string& name) const;
  std::vector<long long> get_int_list(const std::string& name) const;  // "2,17,99"
  // Every value of an option given several times (--image A --image B), in order; get() is the last.
  std::vector<std::string> get_all(const std::string& name) const;
  std::string help() const;

 private:
  struct Spec {
    std::string metavar, help, default_value;
    bool is_flag = false, required = false;
  };
  std::string command_, description_;
  std::vector<std::string> order_;
  std::map<std::string, Spec> specs_;
  std::map<std::string, std::string> aliases_;
  std::map<std::string, std::string> values_;
  std::map<std::string, std::vector<std::string>> all_values_;
  int exit_code_ = 0;
  std::vector<std::function<void(Args&)>> after_parse_;
  bool fail(const std::string& message);
  std::string suggestion(const std::string& given) const;
};

// Edit distance (insertions, deletions, substitutions) between two short strings.
size_t edit_distance(const std::string& a, const std::string& b);

}  // namespace g4::cli
