#include "selm/text/tokenizer_config.hpp"

#include <algorithm>
#include <limits>

#include "selm/util/error.hpp"
#include "selm/util/json_depth.hpp"
#include "selm/util/files.hpp"

namespace selm {
namespace {

class ConfigReader {
 public:
  ConfigReader(const nlohmann::json& json, const fs::path& path) : json_(json), file_(path.string()) {}

  [[noreturn]] void fail(const std::string& key, const std::string& message) const {
    throw_input_error(file_, 0, key + ": " + message);
  }

  // Absent or null keeps `value`.
  void read_bool(const char* key, bool& value) const {
    if (!json_.contains(key) || json_[key].is_null()) return;
    if (!json_[key].is_boolean()) fail(key, "must be true or false");
    value = json_[key].get<bool>();
  }

  // A token is written as a string or as an AddedToken object {"content": ...}; null = none.
  std::optional<std::string> read_token(const char* key) const {
    if (!json_.contains(key) || json_[key].is_null()) return std::nullopt;
    const nlohmann::json& value = json_[key];
    if (value.is_string()) return value.get<std::string>();
    if (value.is_object() && value.contains("content") && value["content"].is_string())
      return value["content"].get<std::string>();
    fail(key, "must be a token string, an object with a \"content\" string, or null");
  }

  std::vector<AddedToken> read_added_tokens() const {
    std::vector<AddedToken> tokens;
    if (!json_.contains("added_tokens_decoder") || json_["added_tokens_decoder"].is_null()) return tokens;
    const nlohmann::json& decoder = json_["added_tokens_decoder"];
    if (!decoder.is_object()) fail("added_tokens_decoder", "must be an object mapping ids to tokens");
    for (const auto& [id_text, entry] : decoder.items()) {
      const std::string key = "added_tokens_decoder." + id_text;
      AddedToken token;
      try {
        std::size_t used = 0;
        token.id = std::stoll(id_text, &used);
        if (used != id_text.size() || token.id < 0) throw std::invalid_argument(id_text);
      } catch (const std::exception&) {
        fail(key, "the key must be a non-negative token id");
      }
      if (!entry.is_object() || !entry.contains("content") || !entry["content"].is_string())
        fail(key, "must be an object with a \"content\" string");
      token.content = entry["content"].get<std::string>();
      auto flag = [&](const char* name, bool fallback) {
        if (!entry.contains(name) || entry[name].is_null()) return fallback;
        if (!entry[name].is_boolean()) fail(key + "." + name, "must be true or false");
        return entry[name].get<bool>();
      };
      token.special = flag("special", false);
      token.lstrip = flag("lstrip", false);
      token.rstrip = flag("rstrip", false);
      tokens.push_back(std::move(token));
    }
    std::sort(tokens.begin(), tokens.end(), [](const AddedToken& a, const AddedToken& b) { return a.id < b.id; });
    return tokens;
  }

  // A Jinja string, or a list of {"name", "template"} of which "default" (else the first) is used.
  std::string read_chat_template() const {
    if (!json_.contains("chat_template") || json_["chat_template"].is_null()) return "";
    const nlohmann::json& value = json_["chat_template"];
    if (value.is_string()) return value.get<std::string>();
    if (value.is_array()) {
      const nlohmann::json* chosen = nullptr;
      for (const nlohmann::json& entry : value) {
        if (!entry.is_object() || !entry.contains("template") || !entry["template"].is_string())
          fail("chat_template", "list entries must be objects with a \"template\" string");
        if (chosen == nullptr || (entry.contains("name") && entry["name"] == "default")) chosen = &entry;
      }
      return chosen == nullptr ? "" : (*chosen)["template"].get<std::string>();
    }
    fail("chat_template", "must be a Jinja string or a list of {\"name\", \"template\"}");
  }

  // transformers writes 1e30 for "no limit"; anything beyond int64 counts as none.
  std::optional<std::int64_t> read_max_length() const {
    if (!json_.contains("model_max_length") || json_["model_max_length"].is_null()) return std::nullopt;
    const nlohmann::json& value = json_["model_max_length"];
    if (value.is_number_integer()) return value.get<std::int64_t>();
    if (value.is_number_unsigned()) return std::nullopt;
    if (value.is_number_float()) {
      const double length = value.get<double>();
      if (length >= 1.0 && length < 9.0e18) return static_cast<std::int64_t>(length);
      return std::nullopt;
    }
    fail("model_max_length", "must be a number");
  }

 private:
  const nlohmann::json& json_;
  std::string file_;
};

}  // namespace

TokenizerConfig read_tokenizer_config(const fs::path& path) {
  const std::string text = read_file(path);
  TokenizerConfig config;
  config.path = path;
  require_json_depth_within(text, path.string());
  try {
    config.raw = nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    throw_input_error(path.string(), 0, std::string("invalid JSON: ") + e.what());
  } catch (const nlohmann::json::out_of_range&) {
    // nlohmann::json refuses numbers beyond double's range (1e309) with out_of_range.
    throw_input_error(path.string(), 0, "invalid JSON: a number is out of range");
  }
  if (!config.raw.is_object()) throw_input_error(path.string(), 0, "must be a JSON object");
  const ConfigReader reader(config.raw, path);
  reader.read_bool("legacy", config.legacy);
  reader.read_bool("add_prefix_space", config.add_prefix_space);
  reader.read_bool("add_bos_token", config.add_bos_token);
  reader.read_bool("add_eos_token", config.add_eos_token);
  config.bos_token = reader.read_token("bos_token");
  config.eos_token = reader.read_token("eos_token");
  config.unk_token = reader.read_token("unk_token");
  config.pad_token = reader.read_token("pad_token");
  config.added_tokens = reader.read_added_tokens();
  config.chat_template = reader.read_chat_template();
  if (!config.chat_template.empty()) config.chat_template_file = path;
  config.model_max_length = reader.read_max_length();
  return config;
}

std::string chat_template_origin(const TokenizerConfig& config) {
  if (config.chat_template.empty()) return "";
  if (config.chat_template_file.extension() == ".jinja") return config.chat_template_file.string();
  return config.chat_template_file.string() + " (chat_template)";
}

}  // namespace selm
