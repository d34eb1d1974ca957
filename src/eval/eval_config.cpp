#include "selm/eval/eval_config.hpp"

namespace selm {

void EvalConfig::validate(const FieldChecker& check) const {
  check.require(max_prompts >= 0, "max_prompts", "must be 0 (all) or positive");
  check.require(temperature >= 0, "temperature", "must be 0 (greedy) or positive");
  check.require(max_new_tokens >= 0, "max_new_tokens", "must be 0 (generate.max_new_tokens) or positive");
  check.require(kl_samples >= 0, "kl_samples", "must be 0 (skip) or positive");
  check.require(num_examples >= 0, "num_examples", "must not be negative");
}

}  // namespace selm
