#pragma once
// llama.cpp's command-line spellings, so that commands pasted from llama-cli/llama-server work: the ones
// that mean what one of our options means (aliases), and the ones that do not apply to this engine
// (accepted with a one-line note, never silently).
#include <functional>
#include <string>
#include <vector>

namespace g4::cli {

struct CompatAlias {
  const char* spelling;  // as typed, e.g. "-c" or "--ctx-size"
  const char* target;    // our option's name, e.g. "ctx"
  const char* value;     // non-null: a flag that stands for `--target value` (--no-mmap -> --load read)
};

struct IgnoredFlag {
  const char* spelling;
  bool takes_value;
  const char* why;  // the note printed; nullptr: accepted quietly because it is always so here (--jinja)
};

// The alias of `spelling` whose target the command has (one spelling may stand for different options of
// different commands: -p is --prompt for run, --pp for bench).
const CompatAlias* find_compat_alias(const std::string& spelling, const std::function<bool(const std::string&)>& has_option);
const IgnoredFlag* find_ignored_flag(const std::string& spelling);
const std::vector<CompatAlias>& compat_aliases();

}  // namespace g4::cli
