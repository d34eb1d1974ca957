// Writing a tokenizer into a Hugging Face model directory so that transformers loads it as
// LlamaTokenizer with the same special tokens and chat template.
#pragma once

#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

#include "selm/text/tokenizer.hpp"

namespace selm {

namespace fs = std::filesystem;

// tokenizer_config.json for `tokenizer`: its own config's fields (unknown ones kept) with
// tokenizer_class LlamaTokenizer, bos/eos/unk/pad tokens (pad null when none), add_bos_token,
// add_eos_token, legacy, clean_up_tokenization_spaces false (decoding must not touch spaces),
// model_max_length when known, added_tokens_decoder (control, unknown and added tokens) and
// chat_template: the Jinja of the named built-in template, or with "auto" the original Jinja
// (plain when there was none). InputError as ChatTemplate::from_name.
nlohmann::json tokenizer_config_json(const Tokenizer& tokenizer, const std::string& chat_template_name);

// special_tokens_map.json: bos/eos/unk/pad tokens and additional_special_tokens.
nlohmann::json special_tokens_map_json(const Tokenizer& tokenizer);

// Writes tokenizer_config.json and special_tokens_map.json into `directory`, atomically.
void write_tokenizer_config_files(const Tokenizer& tokenizer, const fs::path& directory,
                                  const std::string& chat_template_name);

// Copies tokenizer.model (or tokenizer.json, and chat_template.jinja when the template came from
// there and is kept) into `model_dir` and writes the two files above, each atomically.
void write_tokenizer_files(const Tokenizer& tokenizer, const fs::path& model_dir, const std::string& chat_template_name);

}  // namespace selm
