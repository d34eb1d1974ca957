#include "selm/run/json_fields.hpp"

#include <algorithm>

#include "selm/util/error.hpp"
#include "selm/util/files.hpp"
#include "selm/util/json_depth.hpp"

namespace selm {

namespace {

template <class Json>
Json parse_json_file(const std::filesystem::path& file) {
  const std::string text = read_file(file);
  require_json_depth_within(text, file.string());
  try {
    return Json::parse(text);
  } catch (const nlohmann::json::parse_error& error) {
    const std::size_t end = std::min(text.size(), error.byte > 0 ? error.byte - 1 : 0);
    const std::size_t line = 1 + static_cast<std::size_t>(std::count(text.begin(), text.begin() + end, '\n'));
    throw_input_error(file.string(), line, "invalid JSON");
  } catch (const nlohmann::json::out_of_range&) {
    // nlohmann::json refuses numbers beyond double's range (1e309) with out_of_range.
    throw_input_error(file.string(), 0, "invalid JSON: a number is out of range");
  }
}

}  // namespace

nlohmann::json read_json_file(const std::filesystem::path& file) { return parse_json_file<nlohmann::json>(file); }

nlohmann::ordered_json read_ordered_json_file(const std::filesystem::path& file) {
  return parse_json_file<nlohmann::ordered_json>(file);
}

void bad_key(const std::string& where, const std::string& key, const std::string& message) {
  throw InputError(where + "key '" + key + "': " + message);
}

std::optional<double> optional_number(const nlohmann::json& record, const std::string& key, const std::string& where) {
  const auto it = record.find(key);
  if (it == record.end() || it->is_null()) return std::nullopt;
  if (!it->is_number()) bad_key(where, key, "expected a number or null, got " + it->dump());
  return it->get<double>();
}

std::int64_t count_or_zero(const nlohmann::json& record, const std::string& key, const std::string& where) {
  const auto it = record.find(key);
  if (it == record.end() || it->is_null()) return 0;
  if (!it->is_number_integer() && !it->is_number_unsigned()) bad_key(where, key, "expected an integer, got " + it->dump());
  return it->get<std::int64_t>();
}

std::string optional_string(const nlohmann::json& record, const std::string& key, const std::string& where) {
  const auto it = record.find(key);
  if (it == record.end() || it->is_null()) return "";
  if (!it->is_string()) bad_key(where, key, "expected a string, got " + it->dump());
  return it->get<std::string>();
}

std::vector<double> number_array(const nlohmann::json& record, const std::string& key, const std::string& where) {
  std::vector<double> values;
  const auto it = record.find(key);
  if (it == record.end() || it->is_null()) return values;
  if (!it->is_array()) bad_key(where, key, "expected an array, got " + it->dump());
  for (const nlohmann::json& value : *it) {
    if (value.is_null()) continue;
    if (!value.is_number()) bad_key(where, key, "expected numbers or null, got " + value.dump());
    values.push_back(value.get<double>());
  }
  return values;
}

}  // namespace selm
