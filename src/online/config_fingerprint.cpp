#include "selm/online/config_fingerprint.hpp"

#include <map>
#include <set>

#include <yaml-cpp/yaml.h>

#include "selm/judge/content_hash.hpp"

namespace selm {

namespace {

// Keys that change how fast or how verbosely a run goes, not what it computes. Generation batch
// size is among them: sampling is batch-independent (each sample is seeded by its prompt index).
const std::set<std::string>& non_deciding_keys() {
  static const std::set<std::string> keys = {
      "run.threads", "run.log_level", "judge.cache_dir", "judge.batch_size", "judge.http.timeout_seconds",
      "judge.http.max_concurrent", "judge.http.max_retries", "judge.http.backoff_initial_seconds",
      "judge.http.backoff_max_seconds", "judge.command.timeout_seconds", "judge.command.max_restarts",
      "train.log_every", "train.save_every", "generate.batch_size", "eval.num_examples"};
  return keys;
}

void flatten_yaml(const YAML::Node& node, const std::string& prefix, std::map<std::string, std::string>& out) {
  if (node.IsMap()) {
    for (const auto& entry : node) {
      const std::string key = entry.first.as<std::string>();
      flatten_yaml(entry.second, prefix.empty() ? key : prefix + "." + key, out);
    }
    return;
  }
  YAML::Emitter emitter;
  emitter << YAML::Flow << node;
  out[prefix] = emitter.c_str();
}

std::map<std::string, std::string> deciding_values(const Config& config) {
  std::map<std::string, std::string> flat;
  flatten_yaml(YAML::Load(dump_config_yaml(config)), "", flat);
  for (const auto& key : non_deciding_keys()) flat.erase(key);
  return flat;
}

}  // namespace

std::vector<std::string> result_deciding_differences(const Config& before, const Config& after) {
  const auto old_values = deciding_values(before);
  const auto new_values = deciding_values(after);
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
  for (const auto& [key, value] : deciding_values(config)) text += key + "=" + value + "\n";
  return sha256_hex(text).substr(0, 16);
}

}  // namespace selm
