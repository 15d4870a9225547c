#include "core/json.h"

#include "core/error.h"

namespace g4 {

Json parse_json(const std::string& text, const std::string& what) {
  try {
    return Json::parse(text);
  } catch (const Json::parse_error& e) {
    throw Error(what + ": invalid JSON at byte " + std::to_string(e.byte) + ": " + e.what());
  } catch (const Json::exception& e) {  // e.g. out_of_range: a number too large for a double
    throw Error(what + ": invalid JSON: " + e.what());
  }
}

}  // namespace g4
