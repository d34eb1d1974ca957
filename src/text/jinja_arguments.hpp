// The arguments a filter, test, method or global function receives, matched to its Python
// signature, and the conversions of argument values that fail as Python's TypeErrors would.
#pragma once

#include <algorithm>
#include <cstdint>
#include <iterator>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "jinja_value.hpp"

namespace selm::jinja::detail {

struct Arguments {
  std::vector<Value> positional;
  std::vector<std::pair<std::string, Value>> keywords;
};

// Matches `arguments` to a Python signature `parameters` (in order, all optional): a value or
// nullopt per parameter. Failure (a TypeError naming `callee`) for too many arguments, an unknown
// keyword or a parameter given twice.
std::vector<std::optional<Value>> bind_arguments(const Arguments& arguments, const std::string& callee,
                                                 const std::vector<std::string_view>& parameters);
// Failure unless `arguments` is empty.
void no_arguments(const Arguments& arguments, const std::string& callee);

// An int (or bool) argument; `what` names it in the failure.
std::int64_t to_index(const Value& value, const std::string& what);
// An int argument that may be absent or None.
std::optional<std::int64_t> optional_index(const std::optional<Value>& value, const std::string& what);
const std::string& to_text(const Value& value, const std::string& what);
std::optional<std::string> optional_text(const std::optional<Value>& value, const std::string& what);
// The truth of an optional argument, `fallback` when absent.
bool optional_flag(const std::optional<Value>& value, bool fallback);

// Whether `name` is one of `names` (the engine's tables of filter, test and method names).
template <std::size_t N>
bool listed(const char* const (&names)[N], const std::string& name) {
  return std::any_of(std::begin(names), std::end(names), [&](const char* listed_name) { return name == listed_name; });
}

}  // namespace selm::jinja::detail
