// Config sweeps: a grid of config values expanded into one resolved run config per grid point,
// run here one after another or written as a Slurm job array.
//
// Sweep file (YAML):
//   name: alpha                       # sweep name (default: the file's stem)
//   base: [configs/quickstart.yaml]   # config files, relative to the sweep file's folder or absolute
//   overrides: ["online.rounds=3"]    # optional key.path=value overrides of every run
//   grid:                             # cartesian product in the order written, last key fastest
//     train.alpha: [0, 1.0e-4]
//     run.seed: [1, 2, 3]
//   output_dir: runs/sweeps           # optional parent of the sweep folder (default: run.output_dir)
//
// Every run gets run.name = "<sweep>-<short key>=<value>-..." (short key = the last path
// component, characters outside [A-Za-z0-9._=+,-] replaced by '_') and run.output_dir =
// <output_dir>/<sweep name>, so its run directory is <output_dir>/<sweep>/<run name>. The sweep
// folder <output_dir>/<sweep> also holds configs/<run name>.yaml, runs.txt and sweep.sbatch.
#pragma once

#include <cstddef>
#include <filesystem>
#include <iosfwd>
#include <string>
#include <vector>

#include "selm/config/config.hpp"

namespace selm {

// One value of a grid axis as written in the sweep file.
struct SweepValue {
  std::string yaml_text;  // the value as flow YAML, used as the override's value
  std::string label;      // how the value appears in run names (0.001, 2, dpo)
  std::size_t line = 0;   // line in the sweep file (1-based)
};

// One key of the grid with its values.
struct SweepAxis {
  std::string key;         // full config key, e.g. train.alpha
  std::string short_key;   // name used in run names: the last component unless that is ambiguous
  std::size_t line = 0;    // line of the key in the sweep file
  std::vector<SweepValue> values;
};

// The sweep file, parsed and checked for shape (keys exist, lists non-empty, bases exist).
struct SweepSpec {
  std::filesystem::path file;                   // the sweep file as given
  std::string name;                             // sweep name: a plain file name
  std::vector<std::string> base_files;          // config files, resolved against the sweep file's folder
  std::vector<std::string> overrides;           // key.path=value applied to every run
  std::vector<std::size_t> override_lines;      // line of each override
  std::vector<SweepAxis> grid;                  // in the order written
  std::string output_dir;                       // empty = the base config's run.output_dir
};

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

// Parses and checks a sweep file. Throws InputError naming the key and FILE:LINE.
SweepSpec load_sweep_spec(const std::filesystem::path& file);

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

// The Slurm job array script: one array task per run (--array=0-(N-1)), --requeue, logs in
// <sweep dir>/logs/%x-%A_%a.out, `srun "$SELM" train -c CONFIG` with SELM defaulting to
// `executable`, started in `working_dir` (relative paths in the configs are relative to it).
std::string slurm_array_script(const SweepPlan& plan, const std::filesystem::path& executable,
                               const std::filesystem::path& working_dir);

// Writes slurm_array_script to <sweep dir>/sweep.sbatch (atomically, executable) and creates the
// logs folder Slurm writes into. Returns the script's path.
std::filesystem::path write_slurm_array_script(const SweepPlan& plan, const std::filesystem::path& executable,
                                               const std::filesystem::path& working_dir);

// Outcome of one run of run_sweep_locally.
struct LocalRunResult {
  std::string name;
  int exit_code = 0;     // the process's exit status (when it exited)
  int signal = 0;        // the signal that killed it, 0 when it exited
  double seconds = 0.0;  // wall time
  bool ok() const { return signal == 0 && exit_code == 0; }
};

// Runs `executable train -c CONFIG` for every run in order (fork/exec, no shell; output goes to
// this process's stdout/stderr), printing "sweep run i/N: NAME" before and the outcome after
// each run on `report`. A failed run does not stop the others. Throws std::runtime_error when
// the executable cannot be started.
std::vector<LocalRunResult> run_sweep_locally(const SweepPlan& plan, const std::filesystem::path& executable,
                                              std::ostream& report);

}  // namespace selm
