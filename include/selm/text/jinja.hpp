// A Jinja template engine for Hugging Face chat templates.
//
// Renders a model's chat_template byte for byte as transformers' apply_chat_template does: jinja2
// with trim_blocks and lstrip_blocks, the loopcontrols extension ({% break %}, {% continue %}),
// the {% generation %} block (its body renders unchanged), transformers' own tojson filter
// (json.dumps with ensure_ascii=False) and the globals raise_exception(message) and
// strftime_now(format), inside jinja2's immutable sandbox (no method that changes a list or a
// dict). Values print as Python's str() prints them.
//
// The engine implements the part of Jinja that chat templates use:
//   tags      for (loop.*, unpacking, `if` filter, else), if/elif/else, set (also ns.attr, tuples,
//             block set), macro, filter, with, print, raw, break, continue, generation, comments;
//   filters   abs capitalize center count default/d dictsort e/escape first float indent int items
//             join last length list lower map reject rejectattr replace reverse round safe select
//             selectattr sort string title tojson trim unique upper;
//   tests     boolean callable defined divisibleby eq/equalto/== escaped even false filter float
//             ge/>= gt/greaterthan/> in integer iterable le/<= lower lt/lessthan/< mapping ne/!=
//             none number odd sequence string test true undefined upper;
//   globals   range dict namespace raise_exception strftime_now;
//   methods   of str, dict and list that do not change them (split, strip, startswith, items, get...).
// Anything else (a tag, filter, test, method or operator it lacks) is an InputError naming the
// template's origin, line and the construct, never an approximate rendering: at parse time where
// the construct is visible in the source, else when it is reached. Refused, for instance:
// {% call %}, {% include %}, {% extends %}, {% import %}, {% block %}, recursive loops, *args in
// calls, printf-style `str % x`, str.format, the filters wordwrap, groupby, sum, min, max...,
// integers beyond 64 bits, printing a generator or a method (Python prints a memory address), and
// case changes or repr of characters outside the engine's Unicode tables (jinja_unicode.hpp).
#pragma once

#include <memory>
#include <string>
#include <utility>

#include <nlohmann/json.hpp>

#include "selm/util/error.hpp"

namespace selm::jinja {

namespace detail {
struct TemplateBody;
}

// raise_exception(message) called by a template: "ORIGIN:LINE: template raised: MESSAGE". Callers
// that show the template's own words (e.g. "Conversation roles must alternate") catch this one.
class TemplateRaised : public InputError {
 public:
  TemplateRaised(const std::string& located_message, std::string template_message)
      : InputError(located_message), template_message_(std::move(template_message)) {}
  // The message exactly as the template passed it to raise_exception.
  const std::string& template_message() const { return template_message_; }

 private:
  std::string template_message_;
};

class Template {
 public:
  // Parses once. `origin` names the source in messages, e.g. "/m/tokenizer_config.json
  // (chat_template)". InputError "ORIGIN:LINE: ..." for a syntax error or an unsupported construct.
  static Template parse(const std::string& source, const std::string& origin);

  // Renders with `context`, a JSON object whose keys become the template's variables (messages,
  // add_generation_prompt, bos_token, eos_token, tools, ...). Objects keep the key order of
  // `context`, which tojson and loops over a dict's items show; the nlohmann::json overload
  // therefore sees keys sorted (that type sorts them), so pass an ordered_json to render as
  // transformers renders Python dicts. InputError naming the origin and line on a runtime
  // error; TemplateRaised for raise_exception.
  std::string render(const nlohmann::ordered_json& context) const;
  std::string render(const nlohmann::json& context) const;

  const std::string& origin() const;

 private:
  explicit Template(std::shared_ptr<const detail::TemplateBody> body) : body_(std::move(body)) {}
  // Shared and immutable: copies are cheap and one template may render on several threads.
  std::shared_ptr<const detail::TemplateBody> body_;
};

}  // namespace selm::jinja
