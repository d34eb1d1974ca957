#include "selm/online/round_settings.hpp"

#include <sstream>

namespace selm {

std::vector<std::string> split_overrides(const std::string& text) {
  std::istringstream stream(text);
  std::vector<std::string> items;
  std::string item;
  while (stream >> item) items.push_back(item);
  return items;
}

std::int64_t round_seed_offset(std::int64_t run_seed, std::int64_t round) { return 1000003 * run_seed + round; }

RoundSettings load_round_settings(const Config& run_config, const std::filesystem::path& config_file,
                                  std::int64_t round, std::int64_t first_round) {
  std::vector<std::string> overrides;
  if (round == 0) overrides.push_back("train.loss=dpo");
  const auto position = static_cast<std::size_t>(round - first_round);
  if (position < run_config.online.round_overrides.size()) {
    for (auto& item : split_overrides(run_config.online.round_overrides[position])) overrides.push_back(item);
  }
  RoundSettings settings;
  settings.config = load_config({config_file.string()}, overrides);
  const std::int64_t offset = round_seed_offset(run_config.run.seed, round);
  settings.config.generate.seed = run_config.generate.seed + offset;
  settings.config.train.seed = run_config.train.seed + offset;
  settings.prompt_selection = prompt_selection_from_string(settings.config.online.prompt_selection);
  return settings;
}

}  // namespace selm
