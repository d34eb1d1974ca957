#include "selm/train/lora_config.hpp"

#include "selm/model/lora.hpp"

namespace selm {

void LoraConfig::validate(const FieldChecker& check) const {
  check.require(rank >= 0, "rank", "must be >= 0 (0 = LoRA off)");
  check.require(alpha > 0, "alpha", "must be positive");
  check.require(dropout >= 0 && dropout < 1, "dropout", "must be in [0, 1)");
  const std::string problem = lora_targets_problem(target_modules);
  check.require(problem.empty(), "target_modules", problem);
}

std::optional<LoraAdapterSpec> lora_adapter_spec(const LoraConfig& lora, std::int64_t init_seed) {
  if (!lora.enabled()) return std::nullopt;
  LoraAdapterSpec spec;
  spec.rank = lora.rank;
  spec.alpha = lora.alpha;
  spec.dropout = lora.dropout;
  spec.target_modules = resolve_lora_targets(lora.target_modules, "train.lora.target_modules");
  spec.init_seed = init_seed;
  return spec;
}

}  // namespace selm
