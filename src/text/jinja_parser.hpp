// Builds the template tree from jinja2's grammar (the precedence and the corner cases of
// jinja2.parser.Parser), resolving filters and tests so that rendering never looks them up.
#pragma once

#include <string>

#include "jinja_ast.hpp"

namespace selm::jinja::detail {

// InputError "ORIGIN:LINE: ..." for a syntax error, a construct jinja2 rejects (break outside a
// loop, an unknown filter) or one this engine does not support (named).
TemplateTree parse_template(const std::string& source, const std::string& origin);

}  // namespace selm::jinja::detail
