// The Slurm job array script of a sweep, filled in from the template src/sweep/sweep.sbatch.in
// (embedded in the binary at build time).
#pragma once

#include <filesystem>
#include <string>

#include "selm/sweep/sweep_plan.hpp"

namespace selm {

// The Slurm job array script: one array task per run (--array=0-(N-1)), --requeue, logs in
// <sweep dir>/logs/%x-%A_%a.out, `srun "$SELM" train -c CONFIG` with SELM defaulting to
// `executable`, started in `working_dir` (relative paths in the configs are relative to it).
// Each run takes `nodes` nodes with `gpus_per_node` GPUs, one process per GPU (srun starts them;
// more than one trains data-parallel).
struct SlurmResources {
  int nodes = 1;
  int gpus_per_node = 1;
};
std::string slurm_array_script(const SweepPlan& plan, const std::filesystem::path& executable,
                               const std::filesystem::path& working_dir, const SlurmResources& resources = {});

// Writes slurm_array_script to <sweep dir>/sweep.sbatch (atomically, executable) and creates the
// logs folder Slurm writes into. Returns the script's path.
std::filesystem::path write_slurm_array_script(const SweepPlan& plan, const std::filesystem::path& executable,
                                               const std::filesystem::path& working_dir,
                                               const SlurmResources& resources = {});

}  // namespace selm
