#include "selm/train/lr_schedule.hpp"

#include <algorithm>
#include <cmath>

namespace selm {

double learning_rate_at(LrScheduleType type, double peak_learning_rate, std::int64_t step,
                        std::int64_t total_steps, std::int64_t warmup_steps) {
  if (step < warmup_steps) {
    return peak_learning_rate * static_cast<double>(step) / static_cast<double>(std::max<std::int64_t>(1, warmup_steps));
  }
  if (type == LrScheduleType::constant) return peak_learning_rate;
  const double decay_steps = static_cast<double>(std::max<std::int64_t>(1, total_steps - warmup_steps));
  const double progress = std::min(1.0, static_cast<double>(step - warmup_steps) / decay_steps);
  return peak_learning_rate * 0.5 * (1.0 + std::cos(M_PI * progress));
}

std::int64_t warmup_steps_for(double warmup_ratio, std::int64_t total_steps) {
  return static_cast<std::int64_t>(std::ceil(warmup_ratio * static_cast<double>(total_steps)));
}

}  // namespace selm
