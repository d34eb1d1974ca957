// The Python attributes of built-in values that templates use (the str, dict and list methods
// that do not change them) and the global functions every template sees.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "jinja_arguments.hpp"
#include "jinja_value.hpp"

namespace selm::jinja::detail {

class Evaluator;

// What `object.name` finds among the Python attributes of a built-in type: a bound method, the
// undefined value the sandbox gives for a method that would change the object, or nullopt when
// the type has no such attribute (jinja2 then tries object[name]). Failure for an attribute that
// Python has but this engine lacks.
std::optional<Value> builtin_attribute(const Value& object, const std::string& name);

// Calls a method that builtin_attribute returned, or a global function.
Value call_method(Evaluator& evaluator, const Value& receiver, const std::string& name, const Arguments& arguments);
Value call_global(Evaluator& evaluator, const std::string& name, const Arguments& arguments);

// The globals every template sees (range, dict, namespace, raise_exception, strftime_now, and
// jinja2's lipsum, cycler and joiner, which fail when called).
const std::vector<std::pair<std::string, Value>>& global_values();

}  // namespace selm::jinja::detail
