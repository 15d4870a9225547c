#include "server/request_body.h"

#include <vector>

#include "server/openai_api.h"

namespace g4::server {

std::string check_json_limits(std::string_view text, const JsonLimits& limits) {
  struct Level {
    bool object;
    size_t commas;
  };
  std::vector<Level> stack;
  stack.reserve(size_t(limits.max_depth) + 1);
  bool in_string = false, escape = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (escape) escape = false;
      else if (c == '\\') escape = true;
      else if (c == '"') in_string = false;
      continue;
    }
    switch (c) {
      case '"':
        in_string = true;
        break;
      case '{':
      case '[':
        if (int(stack.size()) >= limits.max_depth)
          return "JSON nesting is deeper than " + std::to_string(limits.max_depth) + " levels (at byte " + std::to_string(i) + ")";
        stack.push_back({c == '{', 0});
        break;
      case '}':
      case ']':
        if (stack.empty()) return "";  // malformed: the parser says where
        stack.pop_back();
        break;
      case ',':
        if (!stack.empty() && stack.back().object && ++stack.back().commas >= limits.max_members)
          return "a JSON object has more than " + std::to_string(limits.max_members) + " members (at byte " + std::to_string(i) + ")";
        break;
      default:
        break;
    }
  }
  return "";
}

Json parse_json_checked(std::string_view text, const std::string& param, const JsonLimits& limits) {
  const std::string what = param.empty() ? "the request body" : "'" + param + "'";
  if (text.find_first_not_of(" \t\r\n") == std::string_view::npos)
    throw ApiError(400, what + " is empty; send a JSON " + (param.empty() ? "object" : "value"), param, "invalid_json");
  std::string limit = check_json_limits(text, limits);
  if (!limit.empty()) throw ApiError(400, what + " is too complex: " + limit, param, "json_too_complex");
  try {
    return Json::parse(text);
  } catch (const Json::exception& e) {  // parse_error, or out_of_range for a number too large
    throw ApiError(400, what + " is not valid JSON: " + e.what(), param, "invalid_json");
  }
}

}  // namespace g4::server
