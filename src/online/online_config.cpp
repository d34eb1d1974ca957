#include "selm/online/online_config.hpp"

namespace selm {

void OnlineConfig::validate(const FieldChecker& check) const {
  check.require(rounds >= 1, "rounds", "must be at least 1");
  check.require(prompt_selection == "slices" || prompt_selection == "all" || prompt_selection == "shuffle",
                "prompt_selection", "must be slices, all or shuffle, got '" + prompt_selection + "'");
  check.require(prompts_per_round >= 0, "prompts_per_round", "must be 0 (automatic) or positive");
  check.require(pairing == "selm" || pairing == "best_worst", "pairing",
                "must be selm or best_worst, got '" + pairing + "'");
}

}  // namespace selm
