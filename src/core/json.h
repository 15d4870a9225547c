#pragma once
// JSON is nlohmann::ordered_json everywhere: objects keep the order their members were written in, which
// users see (tool and response schemas keep their declared property order; chat templates iterate dicts in
// request order). Lookups are linear in an object's size, so parsers of untrusted input bound the number
// of members per object before building a DOM (see the server's request pre-scan).
// parse_json turns nlohmann's exceptions into g4::Error with context.
#include <nlohmann/json.hpp>
#include <string>

namespace g4 {

using Json = nlohmann::ordered_json;

// Parses `text`; on failure throws g4::Error "<what>: invalid JSON at byte N: ...".
Json parse_json(const std::string& text, const std::string& what);

}  // namespace g4
