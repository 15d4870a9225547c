#pragma once
// Subcommands register themselves with G4_COMMAND; main() dispatches on argv[1].
// Each subcommand lives in its own cmd_<name>.cpp file.
#include <string>
#include <vector>

namespace g4::cli {

using CommandFn = int (*)(int argc, char** argv);  // argv[0] is the subcommand name

struct Command {
  std::string name;
  std::string summary;
  CommandFn run;
};

bool register_command(Command command);
const std::vector<Command>& commands();

}  // namespace g4::cli

#define G4_CONCAT_INNER(a, b) a##b
#define G4_CONCAT(a, b) G4_CONCAT_INNER(a, b)
#define G4_COMMAND(name, summary, fn) \
  static const bool G4_CONCAT(g4_registered_, __LINE__) = ::g4::cli::register_command({name, summary, fn})
