#include "cli/line_editor.h"

#include <histedit.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <clocale>
#include <cstdio>
#include <cstdlib>
#include <iostream>

namespace g4::cli {

namespace {

bool ends_with(const std::string& s, const char* suffix) {
  const std::string x(suffix);
  return s.size() >= x.size() && s.compare(s.size() - x.size(), x.size(), x) == 0;
}

// mkdir -p for the history file's folder (private: history holds what the user typed).
void make_parent_dirs(const std::string& path) {
  for (size_t at = path.find('/', 1); at != std::string::npos; at = path.find('/', at + 1))
    ::mkdir(path.substr(0, at).c_str(), 0700);
}

constexpr int kHistorySize = 1000;

}  // namespace

void MessageAssembler::append(const std::string& s) {
  if (started_) text_ += '\n';
  text_ += s;
  started_ = true;
}

bool MessageAssembler::feed(const std::string& line) {
  if (in_block_) {
    if (ends_with(line, "\"\"\"")) {
      const std::string last = line.substr(0, line.size() - 3);
      if (!last.empty()) append(last);
      in_block_ = false;
      return true;
    }
    append(line);
    return false;
  }
  if (!continuing_ && line.rfind("\"\"\"", 0) == 0) {
    const std::string rest = line.substr(3);
    if (rest.size() >= 3 && ends_with(rest, "\"\"\"")) {  // """one line"""
      append(rest.substr(0, rest.size() - 3));
      return true;
    }
    in_block_ = true;
    if (!rest.empty()) append(rest);
    return false;
  }
  if (ends_with(line, "\\")) {
    append(line.substr(0, line.size() - 1));
    continuing_ = true;
    return false;
  }
  append(line);
  continuing_ = false;
  return true;
}

std::string MessageAssembler::take() {
  std::string t = std::move(text_);
  clear();
  return t;
}

void MessageAssembler::clear() {
  text_.clear();
  in_block_ = continuing_ = started_ = false;
}

std::string default_history_path() {
  if (const char* x = std::getenv("XDG_STATE_HOME"); x && x[0] == '/') return std::string(x) + "/gemma4/history";
  if (const char* h = std::getenv("HOME"); h && h[0]) return std::string(h) + "/.local/state/gemma4/history";
  return "";
}

LineReader::LineReader(const volatile std::sig_atomic_t& interrupted, const std::string& history_path)
    : interrupted_(interrupted), history_path_(history_path) {
  if (!isatty(STDIN_FILENO)) return;
  std::setlocale(LC_CTYPE, "");  // libedit edits multibyte (UTF-8) characters by the locale
  hist_ = history_init();
  HistEvent ev;
  history(hist_, &ev, H_SETSIZE, kHistorySize);
  history(hist_, &ev, H_SETUNIQUE, 1);
  if (!history_path_.empty()) history(hist_, &ev, H_LOAD, history_path_.c_str());  // a missing file: no history yet
  el_ = el_init("gemma4", stdin, stderr, stderr);
  el_set(el_, EL_CLIENTDATA, this);
  el_set(el_, EL_EDITOR, "emacs");
  el_set(el_, EL_PROMPT, &LineReader::prompt_fn);
  el_set(el_, EL_HIST, history, hist_);
  el_source(el_, nullptr);  // the user's ~/.editrc, as every libedit program reads it
}

LineReader::~LineReader() {
  if (el_) el_end(el_);
  if (hist_) history_end(hist_);
}

const char* LineReader::prompt_fn(editline* el) {
  void* self = nullptr;
  el_get(el, EL_CLIENTDATA, &self);
  return static_cast<LineReader*>(self)->prompt_.c_str();
}

LineReader::Status LineReader::read(const char* prompt, std::string& text) {
  text.clear();
  if (!el_) {
    std::fprintf(stderr, "%s", prompt);
    std::fflush(stderr);
    if (std::getline(std::cin, text)) return Status::Text;
    if (interrupted_) {  // Ctrl-C while reading a terminal-less stdin: keep going
      std::cin.clear();
      return Status::Interrupted;
    }
    return Status::Eof;
  }
  prompt_ = prompt;
  int count = 0;
  const char* line = el_gets(el_, &count);
  // el_gets returns what was typed so far when a signal interrupts the read: a line without its newline.
  if (interrupted_ || (line && count > 0 && line[count - 1] != '\n')) {
    std::fprintf(stderr, "\n");
    return Status::Interrupted;
  }
  if (!line || count <= 0) {
    std::fprintf(stderr, "\n");  // Ctrl-D leaves the cursor after the prompt
    return Status::Eof;
  }
  text.assign(line, size_t(count) - 1);
  return Status::Text;
}

void LineReader::remember(const std::string& typed) {
  if (!hist_ || typed.empty()) return;
  HistEvent ev;
  history(hist_, &ev, H_ENTER, typed.c_str());
  if (history_path_.empty()) return;
  make_parent_dirs(history_path_);
  if (history(hist_, &ev, H_SAVE, history_path_.c_str()) < 0) {
    std::fprintf(stderr, "warning: cannot write the history file %s; history is kept for this session only\n",
                 history_path_.c_str());
    history_path_.clear();
  }
}

}  // namespace g4::cli
