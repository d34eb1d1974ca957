#include "selm/online/run_metrics.hpp"

#include <map>
#include <utility>

#include "selm/config/enum_names.hpp"
#include "selm/run/json_fields.hpp"
#include "selm/util/files.hpp"

namespace selm {

namespace {

// Means of loss, accuracy and margin over the round's logged training steps.
void add_training_means(const fs::path& train_metrics, MetricsLine& line) {
  std::map<std::string, std::pair<double, int>> sums;
  if (fs::exists(train_metrics)) {
    for (const auto& [number, record] : read_jsonl(train_metrics, true)) {
      (void)number;
      for (const char* key : {"loss", "rewards/accuracies", "rewards/margins"}) {
        if (record.contains(key) && record.at(key).is_number()) {
          sums[key].first += record.at(key).get<double>();
          sums[key].second += 1;
        }
      }
    }
  }
  auto mean_of = [&sums](const char* key) -> std::optional<double> {
    const auto it = sums.find(key);
    if (it == sums.end() || it->second.second == 0) return std::nullopt;
    return it->second.first / it->second.second;
  };
  line.train_loss = mean_of("loss");
  line.train_accuracy = mean_of("rewards/accuracies");
  line.train_margin = mean_of("rewards/margins");
}

}  // namespace

MetricsLine round_metrics_line(std::int64_t round, const Config& round_config, const RoundPaths& paths,
                               const RunState& state) {
  MetricsLine line;
  line.round = round;
  line.loss = enum_name(round_config.train.loss);
  line.alpha = round_config.train.alpha;
  line.beta = round_config.train.beta;
  line.learning_rate = round_config.train.learning_rate;
  if (fs::exists(paths.eval())) line.eval = read_json_file(paths.eval());
  if (fs::exists(paths.pairing())) line.pairing = read_pairing_counts(paths.pairing());
  add_training_means(paths.train_metrics(), line);
  const std::string prefix = round_dir_name(round) + "/";
  for (const auto& [stage, seconds] : state.stage_seconds) {
    if (stage.rfind(prefix, 0) == 0) line.stage_seconds[stage.substr(prefix.size())] = seconds;
  }
  return line;
}

}  // namespace selm
