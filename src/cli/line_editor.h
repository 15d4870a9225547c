#pragma once
// The chat prompt's input: line editing and history with libedit when stdin is a terminal, plain line
// reading when it is not (scripts pipe into chat), and the assembly of typed lines into messages.
#include <csignal>
#include <string>

struct editline;
struct history;

namespace g4::cli {

// Joins typed lines into one message: a line starting with """ opens a block that runs to a line ending
// with """ (text on those two lines belongs to the message; """text""" on one line is a one-line block),
// and a line ending with a backslash continues on the next line (the backslash becomes a newline).
class MessageAssembler {
 public:
  // Takes one line (without its newline); true when it completes a message (then take() it).
  bool feed(const std::string& line);
  bool pending() const { return in_block_ || continuing_; }
  std::string take();  // the message, and resets
  void clear();

 private:
  std::string text_;
  bool in_block_ = false, continuing_ = false, started_ = false;
  void append(const std::string& s);
};

// The history file used when --history is not given: $XDG_STATE_HOME/gemma4/history, else
// ~/.local/state/gemma4/history ("" when neither HOME nor XDG_STATE_HOME is set).
std::string default_history_path();

class LineReader {
 public:
  // interrupted: the flag a SIGINT handler sets (installed without SA_RESTART, so that a read returns).
  // history_path: "" keeps no history file. libedit is used only when stdin is a terminal.
  LineReader(const volatile std::sig_atomic_t& interrupted, const std::string& history_path);
  ~LineReader();
  LineReader(const LineReader&) = delete;
  LineReader& operator=(const LineReader&) = delete;

  enum class Status { Text, Interrupted, Eof };
  // Reads what the user entered after `prompt` (on stderr): usually one line; a recalled multi-line
  // history entry comes back whole, with its newlines. Ctrl-C at the prompt: Interrupted (the line is
  // dropped); Ctrl-D on an empty line or the end of stdin: Eof.
  Status read(const char* prompt, std::string& text);
  // Remembers one message as typed (its lines joined by newlines) and saves the history file.
  void remember(const std::string& typed);
  bool editing() const { return el_ != nullptr; }
  const std::string& history_path() const { return history_path_; }

 private:
  const volatile std::sig_atomic_t& interrupted_;
  std::string history_path_, prompt_;
  struct editline* el_ = nullptr;
  struct history* hist_ = nullptr;
  static const char* prompt_fn(struct editline* el);
};

}  // namespace g4::cli
