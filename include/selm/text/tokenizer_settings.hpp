// The tokenizer a command loads and its chat formatting: the `tokenizer` section of the config.
#pragma once

#include <string>

#include "selm/config/field_checker.hpp"

namespace selm {

// Tokenizer and chat formatting.
struct TokenizerSettings {
  std::string path;                    // tokenizer.json or tokenizer.model; empty = the model directory's
  std::string chat_template = "auto";  // auto, zephyr, llama2, chatml or plain
  std::string system_prompt;           // optional system message for chat templates

  template <class Visitor>
  void visit_fields(Visitor& v) {
    v.field("path", path, "tokenizer.json or SentencePiece tokenizer.model (or a directory); empty uses the model directory's");
    v.field("chat_template", chat_template, "Chat template: auto (the model's own, from tokenizer_config.json or chat_template.jinja), zephyr, llama2, chatml or plain");
    v.field("system_prompt", system_prompt, "System message inserted by chat templates that support one");
  }
  void validate(const FieldChecker& check) const;
};

}  // namespace selm
