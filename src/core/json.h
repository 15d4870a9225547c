#pragma once
// JSON is nlohmann::json everywhere; parse_json turns its exceptions into g4::Error with context.
#include <nlohmann/json.hpp>
#include <string>

namespace g4 {

using Json = nlohmann::json;

// Parses `text`; on failure throws g4::Error "<what>: invalid JSON at byte N: ...".
Json parse_json(const std::string& text, const std::string& what);

}  // namespace g4
