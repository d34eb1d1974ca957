// A nesting limit for JSON read from files.
//
// nlohmann::json parses nesting of any depth, but copying, comparing and dumping a value recurse
// once per level: a file of a million '[' parses and then overflows the stack when a message
// quotes it or a reader copies it. Files are checked before they are parsed instead.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace selm {

// The deepest tokenizer.json, config.json or safetensors header is about 6 levels; 512 leaves
// room for any real file and keeps every recursion over the value shallow.
inline constexpr std::size_t kMaxJsonDepth = 512;

// Throws InputError "PATH: JSON nested deeper than 512 levels (at byte N)" when the arrays and
// objects of `text` nest deeper than `max_depth`. Brackets inside strings do not count; the text
// need not be valid JSON (the parser reports that).
void require_json_depth_within(std::string_view text, const std::string& path, std::size_t max_depth = kMaxJsonDepth);

}  // namespace selm
