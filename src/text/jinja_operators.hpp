// Python's operators on template values: arithmetic, membership and slicing.
#pragma once

#include <optional>

#include "jinja_ast.hpp"
#include "jinja_value.hpp"

namespace selm::jinja::detail {

// obj[start:stop:step] of a list, tuple, range or str. Failure for anything else (Python's
// TypeError), or, with `type_error_undefined` (jinja2's compile-time evaluation, which slices
// through getitem), nullopt for what would be a TypeError. A zero step always fails.
std::optional<Value> slice_value(const Value& object, const Value& start, const Value& stop, const Value& step,
                                 bool type_error_undefined = false);
// Python's `+ - * / // % **` (with markupsafe's rule for `+` of a safe string).
Value binary_operation(BinaryOp op, const Value& left, const Value& right);
// `needle in haystack`.
bool contains(const Value& haystack, const Value& needle);

}  // namespace selm::jinja::detail
