// The run that selm_train_loop_helper performs (shared with the tests that check its result).
#pragma once

#include <cstdint>

#include "selm/train/train_config.hpp"

namespace selm::test {

inline constexpr std::int64_t kHelperExamples = 30;
inline constexpr std::uint64_t kHelperDataSeed = 11;
inline constexpr std::uint64_t kHelperModelSeed = 5;
inline constexpr int kHelperThreads = 2;

// 30 examples, micro-batches of 4 (the last one 2), 2 per step: 4 steps per epoch, 10 epochs,
// a checkpoint after every step.
inline TrainConfig helper_train_config() {
  TrainConfig config;
  config.learning_rate = 1e-2;
  config.lr_schedule = LrScheduleType::cosine;
  config.warmup_ratio = 0.1;
  config.weight_decay = 0.01;
  config.max_grad_norm = 1.0;
  config.epochs = 10;
  config.batch_size = 4;
  config.gradient_accumulation_steps = 2;
  config.log_every = 1;
  config.save_every = 1;
  config.seed = 3;
  return config;
}

}  // namespace selm::test
