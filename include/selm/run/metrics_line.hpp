// metrics.jsonl: one line per finished round of `selm train`, the round's settings, its
// evaluation, pairing and training in one flat record (what `selm report` and plots read).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "selm/run/pairing_counts.hpp"

namespace selm {

struct MetricsLine {
  std::int64_t round = 0;
  // The round's training settings (after round_overrides).
  std::string loss;
  double alpha = 0.0;
  double beta = 0.0;
  double learning_rate = 0.0;
  nlohmann::json eval;                   // the round's eval.json, or null when not evaluated
  std::optional<PairingCounts> pairing;  // pairing.json, when present
  // Means over the round's logged training steps; nullopt when none logged the value.
  std::optional<double> train_loss;
  std::optional<double> train_accuracy;  // of "rewards/accuracies"
  std::optional<double> train_margin;    // of "rewards/margins"
  std::map<std::string, double> stage_seconds;  // the round's stages, without the "round-<t>/" prefix
};

// The line's JSON: eval.json's keys but the per-prompt ones, pairing.json's but "prompts",
// train_loss/accuracy/margin (null when unknown) and stage_seconds.
nlohmann::json metrics_line_to_json(const MetricsLine& line);

}  // namespace selm
