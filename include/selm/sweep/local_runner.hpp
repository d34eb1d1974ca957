// Runs a sweep's configs on this machine, one after another.
#pragma once

#include <filesystem>
#include <iosfwd>
#include <string>
#include <vector>

#include "selm/sweep/sweep_plan.hpp"

namespace selm {

// Outcome of one run of run_sweep_locally.
struct LocalRunResult {
  std::string name;
  int exit_code = 0;     // the process's exit status (when it exited)
  int signal = 0;        // the signal that killed it, 0 when it exited
  double seconds = 0.0;  // wall time
  bool ok() const { return signal == 0 && exit_code == 0; }
};

// Runs `executable train -c CONFIG` for every run (no shell), `jobs` at a time, in order,
// printing "sweep run i/N: NAME" before and the outcome after each run on `report`. One at a time,
// a run's output goes straight to this process's stdout/stderr; with jobs > 1 every line of a run
// is prefixed "[NAME] ", and each run gets OMP_NUM_THREADS = cores / jobs unless it is set. A
// failed run does not stop the others. Results are in the plan's order. Throws
// std::runtime_error when the executable cannot be started.
std::vector<LocalRunResult> run_sweep_locally(const SweepPlan& plan, const std::filesystem::path& executable,
                                              std::ostream& report, std::size_t jobs = 1);

}  // namespace selm
