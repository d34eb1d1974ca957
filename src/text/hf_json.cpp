#include "hf_json.hpp"

#include "hf_unicode.hpp"
#include "selm/util/error.hpp"

namespace selm::hf {

void JsonNode::fail(const std::string& message) const {
  throw_input_error(*file_, 0, path_.empty() ? message : path_ + ": " + message);
}

bool JsonNode::has(const char* key) const {
  return value_->is_object() && value_->contains(key) && !(*value_)[key].is_null();
}

JsonNode JsonNode::at(const char* key) const {
  require_object();
  const std::string path = child_path(key);
  if (!has(key)) JsonNode(*value_, *file_, path).fail("is missing");
  return JsonNode((*value_)[key], *file_, path);
}

JsonNode JsonNode::at(std::size_t index) const {
  require_array();
  return JsonNode((*value_)[index], *file_, path_ + "[" + std::to_string(index) + "]");
}

std::string JsonNode::string_at(const char* key) const {
  const JsonNode node = at(key);
  if (!node.value().is_string()) node.fail("must be a string");
  return node.value().get<std::string>();
}

std::optional<std::string> JsonNode::optional_string(const char* key) const {
  if (!has(key)) return std::nullopt;
  return string_at(key);
}

bool JsonNode::bool_or(const char* key, bool fallback) const {
  if (!has(key)) return fallback;
  const JsonNode node = at(key);
  if (!node.value().is_boolean()) node.fail("must be true or false");
  return node.value().get<bool>();
}

std::int64_t JsonNode::int_or(const char* key, std::int64_t fallback) const {
  if (!has(key)) return fallback;
  const JsonNode node = at(key);
  if (!node.value().is_number_integer()) node.fail("must be an integer");
  return node.value().get<std::int64_t>();
}

void JsonNode::require_object() const {
  if (!value_->is_object()) fail("must be a JSON object");
}

void JsonNode::require_array() const {
  if (!value_->is_array()) fail("must be a JSON array");
}

char32_t JsonNode::single_char(const char* key, std::optional<char32_t> fallback) const {
  if (!has(key)) {
    if (fallback) return *fallback;
    at(key);  // reports the missing key
  }
  const std::string text = string_at(key);
  std::size_t position = 0;
  if (text.empty() || !is_valid_utf8(text)) at(key).fail("must be a single character");
  const char32_t result = decode_utf8(text, position);
  if (position != text.size()) at(key).fail("must be a single character, not \"" + text + "\"");
  return result;
}

}  // namespace selm::hf
