// gemma4: the command-line entry point. Subcommands live in cmd_*.cpp and register themselves.
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>

#include "cli/args.h"
#include "cli/command.h"
#include "core/error.h"

namespace g4::cli {

namespace {
std::vector<Command>& registry() {
  static std::vector<Command> r;
  return r;
}
}  // namespace

bool register_command(Command command) {
  registry().push_back(std::move(command));
  return true;
}

const std::vector<Command>& commands() { return registry(); }

}  // namespace g4::cli

static void print_usage() {
  std::printf("gemma4: run Google's Gemma 4 (and Gemma 3) models locally.\n\nusage: gemma4 <command> [options]\n\ncommands:\n");
  for (const auto& c : g4::cli::commands()) std::printf("  %-14s %s\n", c.name.c_str(), c.summary.c_str());
  std::printf("\n'gemma4 <command> --help' describes each command.\n");
}

int main(int argc, char** argv) {
  if (argc >= 2 && (!std::strcmp(argv[1], "--version") || !std::strcmp(argv[1], "-V"))) {
    char* version_argv[] = {const_cast<char*>("version"), nullptr};
    argv = version_argv;  // the same answer as `gemma4 version`
    argc = 1;
    for (const auto& c : g4::cli::commands())
      if (c.name == "version") return c.run(argc, argv);
  }
  // `gemma4 help COMMAND` is `gemma4 COMMAND --help`.
  char help_flag[] = "--help";
  if (argc == 3 && !std::strcmp(argv[1], "help")) {
    argv[1] = argv[2];
    argv[2] = help_flag;
  }
  if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h") || !std::strcmp(argv[1], "help")) {
    print_usage();
    return argc < 2 ? 2 : 0;
  }
  std::string name = argv[1];
  for (const auto& c : g4::cli::commands()) {
    if (c.name != name) continue;
    try {
      return c.run(argc - 1, argv + 1);
    } catch (const g4::Error& e) {
      std::fprintf(stderr, "gemma4 %s: error: %s\n", name.c_str(), e.what());
      return 1;
    } catch (const std::bad_alloc&) {
      std::fprintf(stderr, "gemma4 %s: error: out of memory\n", name.c_str());
      return 1;
    } catch (const std::exception& e) {
      std::fprintf(stderr, "gemma4 %s: internal error: %s\n", name.c_str(), e.what());
      return 1;
    }
  }
  std::string near;
  size_t best = SIZE_MAX;
  for (const auto& c : g4::cli::commands())
    if (size_t d = g4::cli::edit_distance(name, c.name); d < best) best = d, near = c.name;
  if (best > 2) near.clear();
  std::fprintf(stderr, "gemma4: unknown command '%s'%s (run 'gemma4 --help' for the list)\n", name.c_str(),
               near.empty() ? "" : (" (did you mean '" + near + "'?)").c_str());
  return 2;
}
