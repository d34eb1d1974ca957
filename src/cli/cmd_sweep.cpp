// `selm sweep -c SWEEP.yaml (--local [--jobs N] | --slurm | --dry-run) [--out DIR] [--executable PATH]`
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <memory>
#include <stdexcept>
#include <string>

#include "commands.hpp"
#include "selm/sweep/local_runner.hpp"
#include "selm/sweep/slurm_script.hpp"
#include "selm/sweep/sweep_plan.hpp"
#include "selm/sweep/sweep_spec.hpp"
#include "selm/util/error.hpp"

namespace selm::cli {
namespace {

struct SweepArgs {
  std::string sweep_file;
  std::string output_dir;
  std::string executable;
  bool local = false;
  bool slurm = false;
  bool dry_run = false;
  std::size_t jobs = 1;
  SlurmResources resources;
};

// The binary that runs each config: --executable, else $SELM_SWEEP_EXECUTABLE, else this binary.
std::filesystem::path resolve_executable(const std::string& option) {
  std::string source = "--executable";
  std::string path = option;
  if (path.empty()) {
    const char* from_environment = std::getenv("SELM_SWEEP_EXECUTABLE");
    if (from_environment != nullptr && *from_environment != '\0') {
      path = from_environment;
      source = "SELM_SWEEP_EXECUTABLE";
    }
  }
  if (path.empty()) {
    std::error_code error;
    const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", error);
    if (error) throw std::runtime_error("sweep: cannot find this executable through /proc/self/exe: " + error.message());
    return self;
  }
  const std::filesystem::path absolute = std::filesystem::absolute(path).lexically_normal();
  if (!std::filesystem::is_regular_file(absolute) || ::access(absolute.c_str(), X_OK) != 0) {
    throw InputError(source + ": '" + path + "' is not an executable file");
  }
  return absolute;
}

void run_sweep(const SweepArgs& args) {
  if (!args.local && !args.slurm && !args.dry_run) {
    throw InputError("selm sweep: choose --local (run the configs here, one after another), --slurm (write a job "
                     "array script) or --dry-run (only write the configs)");
  }
  const SweepSpec spec = load_sweep_spec(args.sweep_file);
  const SweepPlan plan = expand_sweep(spec, args.output_dir);
  // Resolve the executable before writing anything, so that a bad --executable changes nothing.
  const std::filesystem::path executable = args.dry_run ? std::filesystem::path() : resolve_executable(args.executable);

  const std::filesystem::path runs_file = write_sweep_configs(plan);
  std::cout << "sweep " << plan.name << ": " << plan.runs.size() << " runs in " << plan.directory.string() << "\n";
  for (std::size_t i = 0; i < plan.runs.size(); ++i) {
    std::cout << "  " << (i + 1) << "  " << plan.runs[i].name << "  " << plan.runs[i].config_path.string() << "\n";
  }
  std::cout << "wrote " << plan.runs.size() << " configs and " << runs_file.string() << std::endl;
  if (args.dry_run) return;

  if (args.slurm) {
    const std::filesystem::path script = write_slurm_array_script(plan, executable, std::filesystem::current_path(), args.resources);
    std::cout << "wrote " << script.string() << " (" << plan.runs.size()
              << " array tasks); edit its partition/gres/time lines for your cluster, then: sbatch "
              << script.string() << std::endl;
    return;
  }

  const std::vector<LocalRunResult> results = run_sweep_locally(plan, executable, std::cout, args.jobs);
  std::size_t failed = 0;
  std::string failed_names;
  for (const LocalRunResult& result : results) {
    if (result.ok()) continue;
    ++failed;
    failed_names += (failed_names.empty() ? "" : ", ") + result.name +
                    (result.signal != 0 ? " (signal " + std::to_string(result.signal) + ")"
                                        : " (exit code " + std::to_string(result.exit_code) + ")");
  }
  std::cout << "sweep " << plan.name << ": " << (results.size() - failed) << " of " << results.size() << " runs ok"
            << std::endl;
  if (failed > 0) {
    throw std::runtime_error("sweep " + plan.name + ": " + std::to_string(failed) + " of " +
                             std::to_string(results.size()) + " runs failed: " + failed_names +
                             "; rerun the same command to resume them");
  }
}

}  // namespace

void register_sweep_command(CLI::App& app) {
  auto* command = app.add_subcommand(
      "sweep", "Expand a grid of config values into one run config per point; run them here or as a Slurm job array");
  auto args = std::make_shared<SweepArgs>();
  command->add_option("-c,--config", args->sweep_file, "Sweep file (YAML): name, base, overrides, grid, output_dir")
      ->required();
  auto* local = command->add_flag("--local", args->local,
                                  "Run every config here (`selm train -c CONFIG`), one after another or --jobs N at once; rerunning resumes");
  auto* slurm = command->add_flag("--slurm", args->slurm,
                                  "Write <sweep dir>/sweep.sbatch, a Slurm job array with one task per config (not submitted)");
  local->excludes(slurm);
  command->add_option("--jobs", args->jobs,
                      "With --local: runs side by side (default 1); each gets cores / N threads unless "
                      "OMP_NUM_THREADS is set, and its lines are prefixed [NAME]")
      ->check(CLI::Range(1, 256))
      ->needs(local);
  command->add_option("--nodes", args->resources.nodes, "With --slurm: nodes per run (default 1)")
      ->check(CLI::Range(1, 4096));
  command->add_option("--gpus-per-node", args->resources.gpus_per_node,
                      "With --slurm: GPUs per node of a run, one process each (default 1); more than one process "
                      "trains data-parallel")
      ->check(CLI::Range(1, 64));
  command->add_option("--out", args->output_dir,
                      "Parent folder of the sweep folder (replaces the sweep's output_dir); the sweep goes to DIR/NAME");
  command->add_flag("--dry-run", args->dry_run, "Only write the configs and runs.txt and print the list");
  command->add_option("--executable", args->executable,
                      "Binary that runs each config as `PATH train -c CONFIG` (default: this selm, or "
                      "$SELM_SWEEP_EXECUTABLE); for tests and wrapper scripts");
  command->callback([args] { run_sweep(*args); });
}

}  // namespace selm::cli
