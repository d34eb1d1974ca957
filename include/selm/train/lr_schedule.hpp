// Learning-rate schedules as pure functions of the optimiser step (STYLE.md 9).
#pragma once

#include <cstdint>

#include "selm/config/enum_names.hpp"

namespace selm {

enum class LrScheduleType { cosine, constant };

template <>
struct EnumNames<LrScheduleType> {
  static constexpr EnumName<LrScheduleType> entries[] = {{LrScheduleType::cosine, "cosine"},
                                                          {LrScheduleType::constant, "constant"}};
  static constexpr const char* noun = "schedule";
};

// Learning rate for the optimiser step `step` (0-based) of `total_steps`, with the conventions of
// Hugging Face's schedulers so that the paper's recipes mean the same here:
//   warmup (step < warmup_steps): peak * step / warmup_steps
//   cosine afterwards: peak * 0.5 * (1 + cos(pi * (step - warmup) / (total - warmup)))
//   constant afterwards: peak
double learning_rate_at(LrScheduleType type, double peak_learning_rate, std::int64_t step,
                        std::int64_t total_steps, std::int64_t warmup_steps);

// ceil(ratio * total_steps): the paper's "10% warmup".
std::int64_t warmup_steps_for(double warmup_ratio, std::int64_t total_steps);

}  // namespace selm
