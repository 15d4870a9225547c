#include <cstdio>

#include "cli/args.h"
#include "cli/command.h"

namespace {
int run_version(int argc, char** argv) {
  g4::cli::Args args("version", "Print the version of gemma4.");
  if (!args.parse(argc, argv)) return args.exit_code();
  std::printf("gemma4 0.1.0\n");
  return 0;
}
}  // namespace

G4_COMMAND("version", "print the version", run_version);
