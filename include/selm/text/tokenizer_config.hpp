// The Hugging Face tokenizer_config.json fields that change how selm tokenises, read once into a
// struct (the file sits next to tokenizer.model in a model directory).
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace selm {

namespace fs = std::filesystem;

// One entry of `added_tokens_decoder`: a string that is always one token.
struct AddedToken {
  std::int64_t id = 0;
  std::string content;
  bool special = true;  // dropped by decode(skip_special_tokens=true)
  bool lstrip = false;  // whitespace before the token is removed when encoding
  bool rstrip = false;  // whitespace after the token is removed when encoding
};

struct TokenizerConfig {
  fs::path path;                   // the file read; empty when there was none (all defaults)
  bool legacy = true;              // transformers' LlamaTokenizer `legacy` (absent or null = true)
  bool add_prefix_space = true;    // non-legacy mode: "▁" before the start of the text
  bool add_bos_token = true;       // prompts start with BOS
  bool add_eos_token = false;      // recorded for transformers; selm adds EOS to responses itself
  std::optional<std::string> bos_token;  // token strings; absent = the model's own pieces
  std::optional<std::string> eos_token;
  std::optional<std::string> unk_token;
  std::optional<std::string> pad_token;
  std::vector<AddedToken> added_tokens;        // ordered by id
  std::string chat_template;                   // Jinja source; empty when absent
  // Where chat_template came from: `path` (its "chat_template" key), or chat_template.jinja
  // beside it, which newer transformers writes instead and which wins when both exist.
  fs::path chat_template_file;
  std::optional<std::int64_t> model_max_length;
  nlohmann::json raw = nlohmann::json::object();  // the whole file, to keep unknown fields on rewrite
};

// Reads tokenizer_config.json. A missing file, invalid JSON or a field of the wrong type is an
// InputError naming the file (and the key).
TokenizerConfig read_tokenizer_config(const fs::path& path);

// The name of a template's source for messages: "DIR/chat_template.jinja", or
// "DIR/tokenizer_config.json (chat_template)"; "" when there is no template.
std::string chat_template_origin(const TokenizerConfig& config);

}  // namespace selm
