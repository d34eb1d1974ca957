#include "selm/sweep/local_runner.hpp"

#include <sys/wait.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <ostream>
#include <stdexcept>

#include "selm/util/subprocess.hpp"

namespace selm {

namespace {

std::string elapsed_text(double seconds) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.1f s", seconds);
  return buffer;
}

// Runs `executable train -c CONFIG` to its end (its streams are this process's) and returns the
// waitpid status. Throws std::runtime_error naming the sweep when it cannot be started.
int run_train_command(const std::filesystem::path& executable, const std::filesystem::path& config) {
  try {
    Subprocess process({executable.string(), "train", "-c", config.string()}, SubprocessOptions{});
    return process.wait();
  } catch (const SubprocessError& error) {
    if (error.stage() == SubprocessError::Stage::pipes) {
      throw std::runtime_error(std::string("sweep: cannot create a pipe: ") + std::strerror(error.error_number()));
    }
    throw std::runtime_error(std::string("sweep: ") + error.what());
  }
}

}  // namespace

std::vector<LocalRunResult> run_sweep_locally(const SweepPlan& plan, const std::filesystem::path& executable,
                                              std::ostream& report) {
  std::vector<LocalRunResult> results;
  const std::size_t count = plan.runs.size();
  for (std::size_t i = 0; i < count; ++i) {
    const SweepRun& run = plan.runs[i];
    report << "sweep run " << (i + 1) << "/" << count << ": " << run.name << std::endl;
    // The child writes to the same stdout and stderr: what this process buffered comes first.
    std::fflush(stdout);
    std::fflush(stderr);

    const auto start = std::chrono::steady_clock::now();
    const int status = run_train_command(executable, run.config_path);
    LocalRunResult result;
    result.name = run.name;
    result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (WIFSIGNALED(status)) result.signal = WTERMSIG(status);
    else result.exit_code = WEXITSTATUS(status);
    report << "sweep run " << (i + 1) << "/" << count << ": " << run.name << " "
           << (result.ok() ? std::string("ok")
               : result.signal != 0 ? "failed (killed by signal " + std::to_string(result.signal) + ")"
                                    : "failed (exit code " + std::to_string(result.exit_code) + ")")
           << " in " << elapsed_text(result.seconds) << std::endl;
    results.push_back(result);
  }
  return results;
}

}  // namespace selm
