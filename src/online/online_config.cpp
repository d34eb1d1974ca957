#include "selm/online/online_config.hpp"

namespace selm {

void OnlineConfig::validate(const FieldChecker& check) const {
  check.require(rounds >= 1, "rounds", "must be at least 1");
  check.require(prompts_per_round >= 0, "prompts_per_round", "must be 0 (automatic) or positive");
}

}  // namespace selm
