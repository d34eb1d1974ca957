// Typed access to the JSON files of a run directory, with errors that name the file, the line
// and the key, so that a damaged file can be fixed without a debugger.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace selm {

// A whole JSON file; invalid JSON is an InputError naming FILE:LINE of the error.
nlohmann::json read_json_file(const std::filesystem::path& file);
// The same, keeping the file's key order (state.json's stage timings are shown in it).
nlohmann::ordered_json read_ordered_json_file(const std::filesystem::path& file);

// InputError "WHERE key 'KEY': MESSAGE"; `where` is a location_prefix.
[[noreturn]] void bad_key(const std::string& where, const std::string& key, const std::string& message);

// A number, or nullopt when the key is missing or null.
std::optional<double> optional_number(const nlohmann::json& record, const std::string& key, const std::string& where);
// An integer, 0 when the key is missing or null.
std::int64_t count_or_zero(const nlohmann::json& record, const std::string& key, const std::string& where);
// A string, "" when the key is missing or null.
std::string optional_string(const nlohmann::json& record, const std::string& key, const std::string& where);
// Numbers of a per-prompt array; null entries (unscored prompts) are left out.
std::vector<double> number_array(const nlohmann::json& record, const std::string& key, const std::string& where);

}  // namespace selm
