// The memory plan of a run's config (`selm plan`, and the check `selm train` makes at start):
// which architecture, which device and how much memory it has, the settings mapped onto
// MemoryPlanInputs, and the printout.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "selm/config/config.hpp"
#include "selm/train/memory_plan.hpp"

namespace selm {

struct RunMemoryPlan {
  MemoryPlanInputs inputs;
  MemoryPlan plan;
  std::string model_source;                   // the config.json (or task settings) the architecture came from
  std::string device_name;                    // "cpu", "cuda:0"
  std::optional<std::int64_t> capacity_bytes;  // memory of the device; unknown without --gpu-memory on some builds
  std::string capacity_source;                // "--gpu-memory", "available system memory", "CUDA runtime"

  bool fits() const { return !capacity_bytes || plan.peak_bytes <= *capacity_bytes; }
};

// The plan of `config` (after apply_task, or with the task's own settings when its model is not
// prepared yet). `device_memory` overrides the device's capacity. InputError naming the key or
// file when the architecture cannot be found.
RunMemoryPlan plan_run_memory(const Config& config, std::optional<std::int64_t> device_memory = std::nullopt,
                              std::int64_t world_size = 1);

// The table `selm plan` prints: parts, phases, the verdict and, when it does not fit, the settings
// that would lower the peak.
std::string render_run_memory_plan(const RunMemoryPlan& run_plan);
nlohmann::json run_memory_plan_json(const RunMemoryPlan& run_plan);

}  // namespace selm
