#include "selm/text/jinja.hpp"

#include "jinja_evaluator.hpp"
#include "jinja_parser.hpp"

namespace selm::jinja {

namespace detail {
struct TemplateBody {
  TemplateTree tree;
};
}  // namespace detail

Template Template::parse(const std::string& source, const std::string& origin) {
  auto body = std::make_shared<detail::TemplateBody>();
  body->tree = detail::parse_template(source, origin);
  return Template(std::move(body));
}

const std::string& Template::origin() const { return body_->tree.origin; }

namespace {

template <typename Json>
std::string render_with(const detail::TemplateTree& tree, const Json& context) {
  if (!context.is_object()) throw_input_error(tree.origin, 0, "the variables to render with must be a JSON object");
  detail::Value variables;
  try {
    variables = detail::from_json(context);
  } catch (const detail::Failure& failure) {
    throw_input_error(tree.origin, 0, failure.message());
  }
  // One evaluator per render: its scopes live only as long as this call, and a template shared
  // by several threads keeps no state of its own.
  detail::Evaluator evaluator(tree);
  return evaluator.render(variables);
}

}  // namespace

std::string Template::render(const nlohmann::ordered_json& context) const { return render_with(body_->tree, context); }
std::string Template::render(const nlohmann::json& context) const { return render_with(body_->tree, context); }

}  // namespace selm::jinja
