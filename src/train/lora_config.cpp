#include "selm/train/lora_config.hpp"

#include <algorithm>
#include <set>

#include "selm/model/lora.hpp"
#include "selm/util/error.hpp"

namespace selm {

// Pure checks of the config's target list, here rather than beside the LoRA layers so that
// validating a config needs no LibTorch code.
std::string lora_targets_problem(const std::vector<std::string>& targets) {
  const auto& names = lora_target_names();
  if (targets.empty()) return "must name at least one projection";
  std::set<std::string> seen;
  for (const std::string& target : targets) {
    if (target == kLoraAllLinear) {
      if (targets.size() != 1) return "all-linear must be the only entry";
      continue;
    }
    if (std::find(names.begin(), names.end(), target) == names.end()) {
      std::string known;
      for (const auto& name : names) known += (known.empty() ? "" : ", ") + name;
      return "unknown module '" + target + "' (known: " + known + ", or all-linear)";
    }
    if (!seen.insert(target).second) return "'" + target + "' is listed twice";
  }
  return "";
}

std::vector<std::string> resolve_lora_targets(const std::vector<std::string>& targets, const std::string& key) {
  const std::string problem = lora_targets_problem(targets);
  if (!problem.empty()) throw InputError("key '" + key + "': " + problem);
  const auto& names = lora_target_names();
  if (targets.front() == kLoraAllLinear) return {names.begin(), names.end() - 1};  // all but lm_head, as PEFT
  std::vector<std::string> ordered;
  for (const auto& name : names) {
    if (std::find(targets.begin(), targets.end(), name) != targets.end()) ordered.push_back(name);
  }
  return ordered;
}

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
