// Wall-clock helpers for stage timings and throughput figures.
#pragma once

#include <chrono>

namespace selm {

// Seconds elapsed since `start` on the monotonic clock.
inline double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace selm
