// Python's str methods on UTF-8 text (indices and lengths count code points, as Python's do).
// Case conversions fail (Failure) for a character outside the engine's Unicode tables.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace selm::jinja::detail {

enum class StripSide : std::uint8_t { both, left, right };

// str.strip/lstrip/rstrip(chars); chars nullopt strips whitespace.
std::string py_strip(const std::string& text, const std::optional<std::string>& chars, StripSide side);
// str.split/rsplit(sep, maxsplit); sep nullopt splits on runs of whitespace. Failure for "".
std::vector<std::string> py_split(const std::string& text, const std::optional<std::string>& separator,
                                  std::int64_t max_split);
std::vector<std::string> py_rsplit(const std::string& text, const std::optional<std::string>& separator,
                                   std::int64_t max_split);
std::vector<std::string> py_splitlines(const std::string& text, bool keep_ends);
// str.replace(old, new, count); count < 0 replaces all.
std::string py_replace(const std::string& text, const std::string& old_text, const std::string& new_text,
                       std::int64_t count);

std::string py_lower(const std::string& text);
std::string py_upper(const std::string& text);
std::string py_title(const std::string& text);       // str.title()
std::string py_capitalize(const std::string& text);  // str.capitalize()
bool py_islower(const std::string& text);
bool py_isupper(const std::string& text);

// str.center/ljust/rjust(width, fill).
std::string py_pad(const std::string& text, std::int64_t width, const std::string& fill, int where);  // -1 ljust, 0 center, 1 rjust

// Python's slice indices (slice.indices): start, stop, step adjusted to `length`.
struct SliceIndices {
  std::int64_t start = 0, stop = 0, step = 1, count = 0;
};
SliceIndices slice_indices(std::int64_t length, std::optional<std::int64_t> start, std::optional<std::int64_t> stop,
                           std::optional<std::int64_t> step);

// The code points [start, stop) of text, as a str (for find(start, end) and slicing).
std::string code_point_substr(const std::string& text, std::int64_t start, std::int64_t stop);

// str.find/rfind(sub, start, end) in code points; -1 when absent.
std::int64_t py_find(const std::string& text, const std::string& sub, std::optional<std::int64_t> start,
                     std::optional<std::int64_t> end, bool reverse);
// str.startswith/endswith(affix, start, end) for one affix.
bool py_tailmatch(const std::string& text, const std::string& affix, std::optional<std::int64_t> start,
                  std::optional<std::int64_t> end, bool at_start);
// str.count(sub, start, end).
std::int64_t py_count(const std::string& text, const std::string& sub, std::optional<std::int64_t> start,
                      std::optional<std::int64_t> end);

}  // namespace selm::jinja::detail
