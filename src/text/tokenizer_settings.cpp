#include "selm/text/tokenizer_settings.hpp"

#include <set>

namespace selm {

void TokenizerSettings::validate(const FieldChecker& check) const {
  static const std::set<std::string> templates = {"auto", "zephyr", "llama2", "chatml", "plain"};
  check.require(templates.count(chat_template) == 1, "chat_template",
                "unknown chat template '" + chat_template + "' (known: auto, zephyr, llama2, chatml, plain)");
}

}  // namespace selm
