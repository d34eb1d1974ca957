// jinja2's constant folding, reproduced because one rule differs between its compile-time and its
// run-time evaluation: a slice of something that cannot be sliced is undefined when jinja2 computes
// it while compiling, and a TypeError when it computes it while rendering. So `{{ 1[:2] }}`
// prints nothing while `{{ x[:2] }}` with x = 1 fails.
//
// jinja2 computes a {{ }} expression while compiling when it can (then prints str() of it), and
// replaces any constant sub-expression by its value when that value has a safe repr (None, bool,
// numbers, strings, and lists, tuples and dicts of those).
#pragma once

#include "jinja_ast.hpp"

namespace selm::jinja::detail {

// Folds the constants of every expression in `tree` (after analyze_scopes, which must see the
// names as written).
void fold_constants(TemplateTree& tree);

}  // namespace selm::jinja::detail
