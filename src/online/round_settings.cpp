#include "selm/online/round_settings.hpp"

namespace selm {

std::int64_t round_seed_offset(std::int64_t run_seed, std::int64_t round) { return 1000003 * run_seed + round; }

RoundSettings load_round_settings(const Config& run_config, const std::filesystem::path& config_file,
                                  std::int64_t round, std::int64_t first_round) {
  std::vector<std::string> overrides;
  if (round == 0) overrides.push_back("train.loss=dpo");
  const auto position = static_cast<std::size_t>(round - first_round);
  OverrideList round_changes;
  if (position < run_config.online.round_overrides.size()) round_changes = run_config.online.round_overrides[position];
  RoundSettings settings;
  settings.config = load_config({config_file.string()}, overrides, round_changes);
  const std::int64_t offset = round_seed_offset(run_config.run.seed, round);
  settings.config.generate.seed = run_config.generate.seed + offset;
  settings.config.train.seed = run_config.train.seed + offset;
  return settings;
}

}  // namespace selm
