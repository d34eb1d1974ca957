#include "jinja_arguments.hpp"

namespace selm::jinja::detail {

std::vector<std::optional<Value>> bind_arguments(const Arguments& arguments, const std::string& callee,
                                                 const std::vector<std::string_view>& parameters) {
  std::vector<std::optional<Value>> bound(parameters.size());
  if (arguments.positional.size() > parameters.size())
    fail(callee + "() takes at most " + std::to_string(parameters.size()) + " argument(s) (" +
         std::to_string(arguments.positional.size()) + " given)");
  for (std::size_t i = 0; i < arguments.positional.size(); ++i) bound[i] = arguments.positional[i];
  for (const auto& [name, value] : arguments.keywords) {
    const auto found = std::find(parameters.begin(), parameters.end(), name);
    if (found == parameters.end()) fail(callee + "() got an unexpected keyword argument '" + name + "'");
    auto& slot = bound[static_cast<std::size_t>(found - parameters.begin())];
    if (slot) fail(callee + "() got multiple values for argument '" + name + "'");
    slot = value;
  }
  return bound;
}

void no_arguments(const Arguments& arguments, const std::string& callee) { bind_arguments(arguments, callee, {}); }

std::int64_t to_index(const Value& value, const std::string& what) {
  if (value.is_undefined()) fail_undefined(value);
  if (!value.is_int_like()) fail(what + " must be an integer, not '" + type_name(value) + "'");
  return value.integer;
}

std::optional<std::int64_t> optional_index(const std::optional<Value>& value, const std::string& what) {
  if (!value || value->is_none()) return std::nullopt;
  return to_index(*value, what);
}

const std::string& to_text(const Value& value, const std::string& what) {
  if (value.is_undefined()) fail_undefined(value);
  if (!value.is_string()) fail(what + " must be a string, not '" + type_name(value) + "'");
  return value.text;
}

std::optional<std::string> optional_text(const std::optional<Value>& value, const std::string& what) {
  if (!value || value->is_none()) return std::nullopt;
  return to_text(*value, what);
}

bool optional_flag(const std::optional<Value>& value, bool fallback) { return value ? truthy(*value) : fallback; }


}  // namespace selm::jinja::detail
