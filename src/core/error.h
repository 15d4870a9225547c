#pragma once
// One error type for everything a user can cause: a bad file, a bad flag, a bad request.
// The message must say what went wrong, where, and (when useful) what to do about it.
#include <stdexcept>
#include <string>

namespace g4 {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

// Throws g4::Error with the given message when `condition` is false.
inline void check(bool condition, const std::string& message) {
  if (!condition) throw Error(message);
}

}  // namespace g4
