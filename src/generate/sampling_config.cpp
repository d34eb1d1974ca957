#include "selm/generate/sampling_config.hpp"

namespace selm {

void SamplingConfig::validate(const FieldChecker& check) const {
  check.require(max_new_tokens >= 1, "max_new_tokens", "must be at least 1, got " + std::to_string(max_new_tokens));
  check.require(temperature >= 0.0, "temperature", "must be >= 0 (0 = greedy), got " + std::to_string(temperature));
  check.require(top_k >= 0, "top_k", "must be >= 0 (0 = off), got " + std::to_string(top_k));
  check.require(top_p > 0.0 && top_p <= 1.0, "top_p", "must be in (0, 1], got " + std::to_string(top_p));
  check.require(num_samples >= 1, "num_samples", "must be at least 1, got " + std::to_string(num_samples));
  check.require(batch_size >= 1, "batch_size", "must be at least 1, got " + std::to_string(batch_size));
  check.require(max_prompt_length >= 1, "max_prompt_length",
                "must be at least 1, got " + std::to_string(max_prompt_length));
  for (const auto& stop_string : stop) {
    check.require(!stop_string.empty(), "stop", "stop strings must not be empty");
  }
}

}  // namespace selm
