#include "selm/online/config_fingerprint.hpp"

#include <map>
#include <set>

#include "selm/util/sha256.hpp"

namespace selm {

std::vector<std::string> result_deciding_differences(const Config& before, const Config& after) {
  const auto old_values = result_deciding_values(before);
  const auto new_values = result_deciding_values(after);
  std::vector<std::string> differences;
  std::set<std::string> keys;
  for (const auto& entry : old_values) keys.insert(entry.first);
  for (const auto& entry : new_values) keys.insert(entry.first);
  for (const auto& key : keys) {
    const auto old_it = old_values.find(key);
    const auto new_it = new_values.find(key);
    const std::string old_value = old_it == old_values.end() ? "(unset)" : old_it->second;
    const std::string new_value = new_it == new_values.end() ? "(unset)" : new_it->second;
    if (old_value != new_value) differences.push_back(key + ": " + old_value + " -> " + new_value);
  }
  return differences;
}

std::string config_fingerprint(const Config& config) {
  std::string text;
  for (const auto& [key, value] : result_deciding_values(config)) text += key + "=" + value + "\n";
  return sha256_hex(text).substr(0, 16);
}

}  // namespace selm
