#include "selm/train/train_config.hpp"

namespace selm {

void TrainConfig::validate(const FieldChecker& check) const {
  check.require(beta > 0, "beta", "must be positive");
  check.require(alpha >= 0, "alpha", "must be non-negative");
  check.require(label_smoothing >= 0 && label_smoothing < 0.5, "label_smoothing", "must be in [0, 0.5)");
  check.require(nll_weight >= 0, "nll_weight", "must be non-negative");
  check.require(learning_rate >= 0, "learning_rate", "must be non-negative");
  check.require(warmup_ratio >= 0 && warmup_ratio <= 1, "warmup_ratio", "must be in [0, 1]");
  check.require(weight_decay >= 0, "weight_decay", "must be non-negative");
  check.require(adam_beta1 >= 0 && adam_beta1 < 1, "adam_beta1", "must be in [0, 1)");
  check.require(adam_beta2 >= 0 && adam_beta2 < 1, "adam_beta2", "must be in [0, 1)");
  check.require(adam_epsilon > 0, "adam_epsilon", "must be positive");
  check.require(max_grad_norm >= 0, "max_grad_norm", "must be non-negative");
  check.require(epochs >= 1, "epochs", "must be at least 1");
  check.require(batch_size >= 1, "batch_size", "must be at least 1");
  check.require(gradient_accumulation_steps >= 1, "gradient_accumulation_steps", "must be at least 1");
  check.require(max_prompt_length >= 1, "max_prompt_length", "must be at least 1");
  check.require(max_length > max_prompt_length, "max_length", "must exceed max_prompt_length");
  check.require(log_every >= 1, "log_every", "must be at least 1");
  check.require(save_every >= 0, "save_every", "must be 0 (only at the end) or positive");
  lora.validate(check.nested("lora"));
}

}  // namespace selm
