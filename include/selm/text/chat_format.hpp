// Prompt and response token ids for training and generation (DESIGN.md "Tokenisation"):
//   prompt ids   = [BOS] + encode_with_special_tokens(render(messages, add_generation_prompt))
//   response ids = encode_continuation(response_prefix + response) + [end-of-turn id]
// BOS is prepended when tokenizer_config.json's add_bos_token is true (the default) and the
// rendered text does not already start with the BOS string (llama2 writes it itself). A model's
// own Jinja template gets no BOS from selm: its rendering is encoded as it stands, as
// transformers' apply_chat_template does, and a response prefix holding special tokens
// (Qwen3's "<think>\n\n</think>\n\n") is encoded with them, ahead of the response.
// The response is encoded as a continuation of the prompt, without SentencePiece's dummy
// prefix, because that is what a model generates after a prompt: appending generated ids to
// the prompt ids gives the same ids as encode_response(decode_response(generated ids)).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "selm/text/chat_template.hpp"
#include "selm/text/tokenizer.hpp"

namespace selm {

class ChatFormatter {
 public:
  // `tokenizer` must outlive the formatter. A non-empty `system_prompt` becomes the first
  // message of conversations that have none (the plain template ignores it).
  ChatFormatter(const Tokenizer& tokenizer, ChatTemplate chat_template, std::string system_prompt = "");

  // More ids that end generation besides the template's: the model's generation_config.json
  // may list several end tokens (Llama-3: <|end_of_text|> and <|eot_id|>).
  void add_stop_ids(const std::vector<std::int64_t>& ids);

  // The prompt text, ending with the template's generation prompt.
  std::string render_prompt(const std::vector<ChatMessage>& messages) const;
  std::vector<std::int64_t> encode_prompt(const std::vector<ChatMessage>& messages) const;

  // Response text -> ids ending with the end-of-turn id (EOS, or <|im_end|> for chatml).
  std::vector<std::int64_t> encode_response(const std::string& response) const;
  // Generated ids -> response text: stops at the first stop id, drops special tokens and the
  // template's response prefix. Inverse of encode_response.
  std::string decode_response(const std::vector<std::int64_t>& ids) const;

  const std::vector<std::int64_t>& stop_ids() const { return stop_ids_; }
  const ChatTemplate& chat_template() const { return chat_template_; }
  const Tokenizer& tokenizer() const { return *tokenizer_; }

 private:
  std::vector<ChatMessage> with_system_prompt(const std::vector<ChatMessage>& messages) const;

  const Tokenizer* tokenizer_;
  ChatTemplate chat_template_;
  std::string system_prompt_;
  std::vector<std::int64_t> stop_ids_;
  // The response prefix's own ids when it holds special tokens; empty when it is encoded as
  // ordinary text together with the response.
  std::vector<std::int64_t> special_prefix_ids_;
};

// A list of {"role", "content"} objects -> messages. `key` names the list in messages
// ("messages", "chosen"). InputError "FILE:LINE: key[i].field: ..." for a value that is not a
// list, an element that is not an object, a missing or non-string role/content, or a role other
// than system, user or assistant.
std::vector<ChatMessage> parse_chat_messages(const nlohmann::json& value, const std::string& file, std::size_t line,
                                             const std::string& key);

// One prompts-JSONL record -> messages: {"prompt": "text"} is one user message;
// {"prompt": [messages]} or {"messages": [messages]} are conversations. InputError naming
// FILE:LINE and the key when malformed.
std::vector<ChatMessage> parse_prompt_record(const nlohmann::json& record, const std::string& file, std::size_t line);

}  // namespace selm
