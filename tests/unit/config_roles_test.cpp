// The "changes results" and "per run" roles declared with the fields, and the two key lists
// derived from them: what a resumed online run must keep, and what `selm compare` groups over.
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>

#include <yaml-cpp/yaml.h>

#include "selm/config/config.hpp"

namespace selm {
namespace SELM_UNITY_ID {

// Every key of the dump, flattened to "section.key" -> the value's flow YAML: how the online
// resume check computed its values before the roles existed.
void flatten_dump(const YAML::Node& node, const std::string& prefix, std::map<std::string, std::string>& out) {
  if (node.IsMap()) {
    for (const auto& entry : node) {
      const std::string key = entry.first.as<std::string>();
      flatten_dump(entry.second, prefix.empty() ? key : prefix + "." + key, out);
    }
    return;
  }
  YAML::Emitter emitter;
  emitter << YAML::Flow << node;
  out[prefix] = emitter.c_str();
}

std::map<std::string, std::string> all_values(const Config& config) {
  std::map<std::string, std::string> values;
  flatten_dump(YAML::Load(dump_config_yaml(config)), "", values);
  return values;
}

TEST(ConfigRoles, ResultDecidingValuesLeaveOutExactlyTheSpeedAndProcessKeys) {
  const Config config = load_config({std::string(SELM_SOURCE_DIR) + "/configs/quickstart.yaml"}, {});
  const std::map<std::string, std::string> deciding = result_deciding_values(config);
  std::map<std::string, std::string> expected = all_values(config);
  const std::set<std::string> left_out = {
      "run.threads", "run.log_level", "run.collective_timeout_seconds", "judge.cache_dir", "judge.batch_size", "judge.http.timeout_seconds",
      "judge.http.max_concurrent", "judge.http.max_retries", "judge.http.backoff_initial_seconds",
      "judge.http.backoff_max_seconds", "judge.http.max_response_bytes", "judge.command.timeout_seconds",
      "judge.command.max_restarts",
      "train.log_every", "train.save_every", "train.gradient_checkpointing", "train.shard_optimizer_state",
      "generate.batch_size",
      "eval.num_examples"};
  for (const auto& key : left_out) {
    ASSERT_EQ(expected.erase(key), 1u) << key;
  }
  // Same keys and the same value texts as the dump's, so config fingerprints did not change.
  EXPECT_EQ(deciding, expected);
  EXPECT_EQ(deciding.at("train.loss"), "selm");
  EXPECT_EQ(deciding.at("model.device"), "cpu");
  EXPECT_EQ(deciding.at("online.round_overrides"), "[]");
}

TEST(ConfigRoles, PerRunKeysAreNamesSeedsAndProcessOptions) {
  const std::set<std::string> expected = {"run.name",      "run.output_dir", "run.seed",   "run.threads",
                                          "run.log_level", "run.collective_timeout_seconds", "generate.seed",
                                          "train.seed",    "task.seed"};
  EXPECT_EQ(per_run_keys(), expected);
}

TEST(ConfigRoles, SpeedKeysDoNotChangeTheDecidingValues) {
  const Config base = load_config({}, {});
  const Config faster = load_config({}, {"run.threads=3", "run.log_level=debug", "judge.batch_size=7",
                                         "judge.command.timeout_seconds=5", "generate.batch_size=2",
                                         "train.save_every=9", "eval.num_examples=1"});
  EXPECT_EQ(result_deciding_values(base), result_deciding_values(faster));
  const Config other_seed = load_config({}, {"generate.seed=1"});
  EXPECT_NE(result_deciding_values(base), result_deciding_values(other_seed));
  const Config other_loss = load_config({}, {"train.loss=dpo"});
  EXPECT_EQ(result_deciding_values(other_loss).at("train.loss"), "dpo");
}

}  // namespace
}  // namespace selm
