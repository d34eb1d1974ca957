#include "selm/run/metrics_line.hpp"

#include "selm/run/eval_record.hpp"

namespace selm {

namespace {

nlohmann::json optional_value(const std::optional<double>& value) {
  return value ? nlohmann::json(*value) : nlohmann::json(nullptr);
}

}  // namespace

nlohmann::json metrics_line_to_json(const MetricsLine& line) {
  nlohmann::json value = {{"round", line.round},
                          {"loss", line.loss},
                          {"alpha", line.alpha},
                          {"beta", line.beta},
                          {"learning_rate", line.learning_rate}};
  if (line.eval.is_object()) {
    for (const auto& [key, field] : line.eval.items()) {
      if (!is_per_prompt_eval_key(key)) value[key] = field;
    }
  }
  if (line.pairing) {
    const nlohmann::json pairing = line.pairing->to_json();
    for (const auto& [key, field] : pairing.items()) {
      if (key != "prompts") value[key] = field;
    }
  }
  value["train_loss"] = optional_value(line.train_loss);
  value["train_accuracy"] = optional_value(line.train_accuracy);
  value["train_margin"] = optional_value(line.train_margin);
  value["stage_seconds"] = line.stage_seconds;
  return value;
}

}  // namespace selm
