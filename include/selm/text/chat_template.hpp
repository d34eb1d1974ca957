// Chat templates: how a conversation becomes the text a chat model was trained on.
//
// Built-in templates (rendered exactly like the Jinja templates of the models that use them, and
// written back as Jinja by jinja() so that transformers' apply_chat_template agrees):
//   zephyr  "<|system|>\nS</s>\n<|user|>\nU</s>\n<|assistant|>\nA</s>\n"; generation prompt
//           "<|assistant|>\n"; end of turn </s> (EOS).
//   llama2  "<s>[INST] <<SYS>>\nS\n<</SYS>>\n\nU [/INST] A </s><s>[INST] U2 [/INST]" (contents
//           stripped of surrounding whitespace, as Llama-2-chat's template does); a system
//           message only first, then user/assistant alternating from user; the prompt already
//           ends where the response starts, so the generation prompt is empty and the response
//           follows a space (response_prefix() == " "); end of turn </s> (EOS).
//   chatml  "<|im_start|>user\nU<|im_end|>\n<|im_start|>assistant\nA<|im_end|>\n"; generation
//           prompt "<|im_start|>assistant\n"; end of turn <|im_end|>, which must be one token.
//   plain   for base models: the contents joined with "\n", no markup; the response continues
//           the text; end of turn EOS.
//
// The model's own template (`auto` with a chat_template that is not one of the above written as
// selm writes it): the Jinja source is rendered by selm's Jinja engine exactly as transformers'
// apply_chat_template renders it (name() "jinja"). How a reply sits in a conversation is read
// off the template itself: a probe conversation is rendered with and without its reply, the
// text between the generation prompt and the reply is the response prefix (Qwen3's empty
// "<think>\n\n</think>\n\n"), and the first special token after the reply ends the turn
// (<|im_end|>, <end_of_turn>, <|eot_id|>); EOS when the template writes none.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "selm/text/tokenizer.hpp"
#include "selm/text/tokenizer_config.hpp"

namespace selm {

namespace jinja {
class Template;
}

struct ChatMessage {
  std::string role;  // system, user or assistant
  std::string content;
};

bool operator==(const ChatMessage& a, const ChatMessage& b);

class ChatTemplate {
 public:
  // `name` is zephyr, llama2, chatml, plain, or auto: `config`'s chat_template (plain when it has
  // none; the built-in template when it is that template's jinja(); else the model's own Jinja
  // template). InputError for an unknown name, a Jinja template that does not parse, uses a
  // construct selm's engine lacks or does not show where a reply goes (naming its file and
  // line), or a tokenizer lacking the template's end-of-turn token as a single token (naming
  // the tokenizer file).
  static ChatTemplate from_name(const std::string& name, const Tokenizer& tokenizer, const TokenizerConfig& config);
  // Same, with the tokenizer's own tokenizer_config.json.
  static ChatTemplate from_name(const std::string& name, const Tokenizer& tokenizer);

  static const std::vector<std::string>& builtin_names();  // zephyr, llama2, chatml, plain

  const std::string& name() const { return name_; }
  // True for the model's own Jinja template: its prompt is exactly what it renders (it writes any
  // BOS itself, as apply_chat_template, which encodes without adding special tokens).
  bool is_model_template() const { return jinja_ != nullptr; }

  // The conversation as text. With add_generation_prompt the text ends where the assistant's
  // reply starts. InputError for an unknown role or an order the template cannot express.
  std::string render(const std::vector<ChatMessage>& messages, bool add_generation_prompt) const;

  // Text the template puts between the generation prompt and the reply (" " for llama2; may hold
  // special tokens for a model's template).
  const std::string& response_prefix() const { return response_prefix_; }
  // The token that ends an assistant turn ("</s>" or "<|im_end|>") and its id.
  const std::string& end_of_turn_token() const { return end_of_turn_token_; }
  std::int64_t end_of_turn_id() const { return end_of_turn_id_; }
  // Ids that end generation: the end-of-turn id, then EOS when that differs.
  const std::vector<std::int64_t>& stop_ids() const { return stop_ids_; }

  // Jinja source equivalent to render() for transformers (tokenizer_config.json chat_template);
  // a model's template returns its own source.
  std::string jinja() const;

 private:
  static ChatTemplate from_model_jinja(const Tokenizer& tokenizer, const TokenizerConfig& config);
  void read_reply_format_from_template(const Tokenizer& tokenizer, const std::string& origin);

  std::string name_;
  std::shared_ptr<const jinja::Template> jinja_;  // the model's template, parsed once; null for built-ins
  std::string jinja_source_;
  nlohmann::json special_tokens_;  // bos_token, eos_token, ...: the template's variables besides messages
  std::string bos_token_;
  std::string eos_token_;
  std::string response_prefix_;
  std::string end_of_turn_token_;
  std::int64_t end_of_turn_id_ = -1;
  std::vector<std::int64_t> stop_ids_;
};

}  // namespace selm
