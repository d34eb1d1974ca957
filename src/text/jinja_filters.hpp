// jinja2's built-in filters and tests, as chat templates use them, with jinja2's semantics
// (Python's for the values they compute).
#pragma once

#include <string>

#include "jinja_ast.hpp"

namespace selm::jinja::detail {

// The filter or test of that name; null when unsupported. jinja_has_* tell an unknown name from
// one that jinja2 has but this engine lacks.
FilterFunction find_filter(const std::string& name);
TestFunction find_test(const std::string& name);
bool jinja_has_filter(const std::string& name);
bool jinja_has_test(const std::string& name);
// Whether jinja2 passes the template context to the filter (map, select, reject, selectattr,
// rejectattr), which keeps it from being evaluated at compile time.
bool filter_reads_context(const std::string& name);

}  // namespace selm::jinja::detail
