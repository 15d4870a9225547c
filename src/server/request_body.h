#pragma once
// Request bodies of the JSON APIs, parsed with bounded work.
//
// Before nlohmann builds a tree, one non-recursive pass over the bytes checks two limits: nesting depth
// (every later step that walks the tree - copying it, protecting its strings, rendering the template,
// compiling schemas - recurses, so depth must be bounded first; a 200 KB body of '[' would otherwise
// overflow the stack) and members per object (g4::Json is nlohmann::ordered_json, whose object insert
// scans the object's keys, so a million-key object would make parsing quadratic).
#include <cstddef>
#include <string>
#include <string_view>

#include "core/json.h"

namespace g4::server {

struct JsonLimits {
  int max_depth = 64;          // nested arrays/objects
  size_t max_members = 1024;   // members of one object
};

// "" when `text` is within the limits (or is not JSON at all: the parser reports that), else what is
// exceeded, e.g. "JSON nesting is deeper than 64 levels (at byte 65)". Linear time, O(max_depth) memory.
std::string check_json_limits(std::string_view text, const JsonLimits& limits = {});

// Parses a request body or an embedded JSON string (e.g. tool-call arguments): throws ApiError 400
// naming `param` (empty for the whole body) when it is empty, exceeds the limits, or is not valid JSON.
Json parse_json_checked(std::string_view text, const std::string& param = "", const JsonLimits& limits = {});

}  // namespace g4::server
