// jinja2's static scope analysis (its idtracking module), reduced to what changes output: which
// names each scope owns from its start because its first use of them is an assignment.
#pragma once

#include "jinja_ast.hpp"

namespace selm::jinja::detail {

// Fills the HiddenNames of the template and of every scope in it.
void analyze_scopes(TemplateTree& tree);

}  // namespace selm::jinja::detail
