// A position inside a tokenizer.json document: the JSON value plus the file and the key path that
// lead to it ("pre_tokenizer.pretokenizers[1].pattern"), so that every error the loader raises
// names exactly what the user has to fix.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace selm::hf {

class JsonNode {
 public:
  JsonNode(const nlohmann::json& value, const std::string& file, std::string path)
      : value_(&value), file_(&file), path_(std::move(path)) {}

  const nlohmann::json& value() const { return *value_; }
  const std::string& path() const { return path_; }
  const std::string& file() const { return *file_; }

  // InputError "FILE: PATH: message" (or "FILE: message" at the root).
  [[noreturn]] void fail(const std::string& message) const;

  // True when `key` is present and not null.
  bool has(const char* key) const;
  // The member `key`; an error when absent or null.
  JsonNode at(const char* key) const;
  // Element `index` of an array.
  JsonNode at(std::size_t index) const;
  std::size_t size() const { return value_->size(); }

  // Typed members: absent or null gives the fallback (or nullopt); a wrong type is an error.
  std::string string_at(const char* key) const;
  std::optional<std::string> optional_string(const char* key) const;
  bool bool_or(const char* key, bool fallback) const;
  std::int64_t int_or(const char* key, std::int64_t fallback) const;
  // The member "type" as a string; the error names PATH.type.
  std::string type() const { return string_at("type"); }

  void require_object() const;
  void require_array() const;
  // A string holding exactly one Unicode character (Metaspace's replacement, Strip's content).
  char32_t single_char(const char* key, std::optional<char32_t> fallback) const;

 private:
  std::string child_path(const std::string& key) const { return path_.empty() ? key : path_ + "." + key; }

  const nlohmann::json* value_;
  const std::string* file_;
  std::string path_;
};

}  // namespace selm::hf
