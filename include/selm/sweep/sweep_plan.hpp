// A sweep expanded into its runs: one resolved, validated config per grid point, and the files
// that list them.
//
// Every run gets run.name = "<sweep>-<short key>=<value>-..." (short key = the last path
// component, characters outside [A-Za-z0-9._=+,-] replaced by '_') and run.output_dir =
// <output_dir>/<sweep name>, so its run directory is <output_dir>/<sweep>/<run name>. The sweep
// folder <output_dir>/<sweep> also holds configs/<run name>.yaml, runs.txt and sweep.sbatch.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "selm/config/config.hpp"
#include "selm/sweep/sweep_spec.hpp"

namespace selm {

// One expanded grid point.
struct SweepRun {
  std::string name;                          // run.name
  std::vector<std::string> grid_overrides;   // the point's values as key.path=value, in grid order
  Config config;                             // resolved: base files < overrides < grid values < name
  std::filesystem::path config_path;         // absolute path of <sweep dir>/configs/<name>.yaml
};

struct SweepPlan {
  std::string name;                  // sweep name
  std::filesystem::path directory;   // <output_dir>/<sweep name> (as configured, may be relative)
  std::vector<SweepRun> runs;        // grid order: the last key varies fastest
};

// Expands the grid and resolves and validates every run config; writes nothing. A non-empty
// `output_dir_override` replaces the sweep's output_dir. Throws InputError naming the sweep
// file's line of the offending key or value.
SweepPlan expand_sweep(const SweepSpec& spec, const std::string& output_dir_override = "");

// "<sweep>-<short key>=<label>-..." with every character outside [A-Za-z0-9._=+,-] made '_'.
std::string sweep_run_name(const std::string& sweep_name, const std::vector<std::string>& short_keys,
                           const std::vector<std::string>& labels);

// Writes each run's resolved config to its config_path (atomically) and <sweep dir>/runs.txt,
// one absolute config path per line in run order. Returns the path of runs.txt.
std::filesystem::path write_sweep_configs(const SweepPlan& plan);

}  // namespace selm
