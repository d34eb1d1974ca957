#include "selm/text/tokenizer_files.hpp"

#include <map>
#include <set>

#include "selm/text/chat_template.hpp"
#include "selm/util/files.hpp"

namespace selm {
namespace {

nlohmann::json token_or_null(const Tokenizer& tokenizer, std::optional<std::int64_t> id) {
  if (!id || *id < 0) return nullptr;
  return tokenizer.id_to_piece(*id);
}

nlohmann::json added_token_entry(const std::string& content, bool special, bool lstrip, bool rstrip) {
  return {{"content", content}, {"lstrip", lstrip},      {"normalized", false},
          {"rstrip", rstrip},   {"single_word", false}, {"special", special}};
}

// Added tokens by id: the config's, plus every special piece of the model.
std::map<std::int64_t, AddedToken> added_tokens(const Tokenizer& tokenizer) {
  std::map<std::int64_t, AddedToken> tokens;
  for (std::int64_t id = 0; id < tokenizer.vocab_size(); ++id)
    if (tokenizer.is_special(id)) tokens[id] = AddedToken{id, tokenizer.id_to_piece(id), true, false, false};
  for (const AddedToken& token : tokenizer.config().added_tokens) tokens[token.id] = token;
  return tokens;
}

// A tokenizer.json's tokenizer_config.json is the model's own and stays as it is, bar the chat
// template; the special tokens are filled in only where it names none.
nlohmann::json hf_json_tokenizer_config(const Tokenizer& tokenizer, const std::string& chat_template_name) {
  const TokenizerConfig& config = tokenizer.config();
  nlohmann::json json = config.raw.is_object() ? config.raw : nlohmann::json::object();
  if (!json.contains("tokenizer_class")) json["tokenizer_class"] = "PreTrainedTokenizerFast";
  auto fill = [&](const char* key, std::optional<std::int64_t> id) {
    if (!json.contains(key) && id && *id >= 0) json[key] = tokenizer.id_to_piece(*id);
  };
  fill("bos_token", tokenizer.bos_id());
  fill("eos_token", tokenizer.eos_id());
  fill("unk_token", tokenizer.unk_id());
  fill("pad_token", tokenizer.pad_id());
  if (!json.contains("clean_up_tokenization_spaces")) json["clean_up_tokenization_spaces"] = false;
  const bool keep_original = chat_template_name == "auto" && !config.chat_template.empty();
  if (keep_original) {
    // A template read from chat_template.jinja goes back there (write_tokenizer_files copies it).
    if (config.chat_template_file.extension() != ".jinja") json["chat_template"] = config.chat_template;
  } else {
    json["chat_template"] = ChatTemplate::from_name(chat_template_name, tokenizer).jinja();
  }
  return json;
}

}  // namespace

nlohmann::json tokenizer_config_json(const Tokenizer& tokenizer, const std::string& chat_template_name) {
  if (is_hf_json_tokenizer(tokenizer)) return hf_json_tokenizer_config(tokenizer, chat_template_name);
  const TokenizerConfig& config = tokenizer.config();
  nlohmann::json json = config.raw.is_object() ? config.raw : nlohmann::json::object();
  json["tokenizer_class"] = "LlamaTokenizer";
  json["bos_token"] = token_or_null(tokenizer, tokenizer.bos_id());
  json["eos_token"] = token_or_null(tokenizer, tokenizer.eos_id());
  json["unk_token"] = token_or_null(tokenizer, tokenizer.unk_id());
  json["pad_token"] = token_or_null(tokenizer, tokenizer.pad_id());
  json["add_bos_token"] = config.add_bos_token;
  json["add_eos_token"] = config.add_eos_token;
  json["legacy"] = config.legacy;
  if (!json.contains("clean_up_tokenization_spaces")) json["clean_up_tokenization_spaces"] = false;
  if (config.model_max_length) json["model_max_length"] = *config.model_max_length;
  const bool keep_original = chat_template_name == "auto" && !config.chat_template.empty();
  if (!keep_original) json["chat_template"] = ChatTemplate::from_name(chat_template_name, tokenizer).jinja();
  nlohmann::json decoder = nlohmann::json::object();
  for (const auto& [id, token] : added_tokens(tokenizer))
    decoder[std::to_string(id)] = added_token_entry(token.content, token.special, token.lstrip, token.rstrip);
  json["added_tokens_decoder"] = decoder;
  return json;
}

nlohmann::json special_tokens_map_json(const Tokenizer& tokenizer) {
  nlohmann::json json = nlohmann::json::object();
  std::set<std::int64_t> named;
  auto add = [&](const char* key, std::optional<std::int64_t> id) {
    if (!id || *id < 0) return;
    json[key] = added_token_entry(tokenizer.id_to_piece(*id), true, false, false);
    named.insert(*id);
  };
  add("bos_token", tokenizer.bos_id());
  add("eos_token", tokenizer.eos_id());
  add("unk_token", tokenizer.unk_id());
  add("pad_token", tokenizer.pad_id());
  nlohmann::json additional = nlohmann::json::array();
  for (const auto& [id, token] : added_tokens(tokenizer))
    if (token.special && named.count(id) == 0) additional.push_back(token.content);
  if (!additional.empty()) json["additional_special_tokens"] = additional;
  return json;
}

void write_tokenizer_config_files(const Tokenizer& tokenizer, const fs::path& directory,
                                  const std::string& chat_template_name) {
  const std::string config = tokenizer_config_json(tokenizer, chat_template_name).dump(2) + "\n";
  const std::string special_tokens = special_tokens_map_json(tokenizer).dump(2) + "\n";
  fs::create_directories(directory);
  write_file_atomic(directory / "tokenizer_config.json", config);
  write_file_atomic(directory / "special_tokens_map.json", special_tokens);
}

void write_tokenizer_files(const Tokenizer& tokenizer, const fs::path& model_dir, const std::string& chat_template_name) {
  fs::create_directories(model_dir);
  // tokenizer.json or tokenizer.model, under its own name.
  const fs::path target = model_dir / tokenizer.model_path().filename();
  std::error_code error;
  if (!fs::equivalent(tokenizer.model_path(), target, error)) write_file_atomic(target, read_file(tokenizer.model_path()));
  const TokenizerConfig& config = tokenizer.config();
  const fs::path jinja_target = model_dir / "chat_template.jinja";
  if (chat_template_name == "auto" && config.chat_template_file.extension() == ".jinja") {
    if (!fs::equivalent(config.chat_template_file, jinja_target, error)) write_file_atomic(jinja_target, config.chat_template);
  } else if (fs::exists(jinja_target, error)) {
    fs::remove(jinja_target);  // it would win over the template written into tokenizer_config.json
  }
  write_tokenizer_config_files(tokenizer, model_dir, chat_template_name);
}

}  // namespace selm
