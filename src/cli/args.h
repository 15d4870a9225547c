#pragma once
// A small, strict command-line parser: declared options only, clear errors, generated --help.
//
//   Args args("logits", "Compute prompt logits.");
//   args.option("model", "PATH", "model folder or file", /*required=*/true);
//   args.flag("greedy", "always take the most likely token");
//   if (!args.parse(argc, argv)) return args.exit_code();   // printed help or an error
//   std::string model = args.get("model");
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

  // Returns false when the caller should exit with exit_code() (help printed: 0, error: 2).
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
};

}  // namespace g4::cli
