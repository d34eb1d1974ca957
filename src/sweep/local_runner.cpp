#include "selm/sweep/local_runner.hpp"

#include <sys/wait.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <memory>
#include <mutex>
#include <optional>
#include <ostream>
#include <stdexcept>
#include <thread>

#include "selm/util/subprocess.hpp"

namespace selm {

namespace {

std::string elapsed_text(double seconds) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.1f s", seconds);
  return buffer;
}

// Starts `executable train -c CONFIG`. Throws std::runtime_error naming the sweep when it cannot
// be started.
std::unique_ptr<Subprocess> start_train_command(const std::filesystem::path& executable,
                                                const std::filesystem::path& config, const SubprocessOptions& options) {
  try {
    return std::make_unique<Subprocess>(
        std::vector<std::string>{executable.string(), "train", "-c", config.string()}, options);
  } catch (const SubprocessError& error) {
    if (error.stage() == SubprocessError::Stage::pipes) {
      throw std::runtime_error(std::string("sweep: cannot create a pipe: ") + std::strerror(error.error_number()));
    }
    throw std::runtime_error(std::string("sweep: ") + error.what());
  }
}

LocalRunResult result_of(const std::string& name, int status, std::chrono::steady_clock::time_point start) {
  LocalRunResult result;
  result.name = name;
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (WIFSIGNALED(status)) result.signal = WTERMSIG(status);
  else result.exit_code = WEXITSTATUS(status);
  return result;
}

std::string outcome_text(const LocalRunResult& result) {
  return (result.ok() ? std::string("ok")
          : result.signal != 0 ? "failed (killed by signal " + std::to_string(result.signal) + ")"
                               : "failed (exit code " + std::to_string(result.exit_code) + ")") +
         " in " + elapsed_text(result.seconds);
}

}  // namespace

std::vector<LocalRunResult> run_sweep_locally(const SweepPlan& plan, const std::filesystem::path& executable,
                                              std::ostream& report, std::size_t jobs) {
  const std::size_t count = plan.runs.size();
  std::vector<LocalRunResult> results(count);
  const auto label = [&](std::size_t i) {
    return "sweep run " + std::to_string(i + 1) + "/" + std::to_string(count) + ": " + plan.runs[i].name;
  };
  if (jobs <= 1) {
    for (std::size_t i = 0; i < count; ++i) {
      report << label(i) << std::endl;
      // The child writes to the same stdout and stderr: what this process buffered comes first.
      std::fflush(stdout);
      std::fflush(stderr);
      const auto start = std::chrono::steady_clock::now();
      const int status = start_train_command(executable, plan.runs[i].config_path, SubprocessOptions{})->wait();
      results[i] = result_of(plan.runs[i].name, status, start);
      report << label(i) << " " << outcome_text(results[i]) << std::endl;
    }
    return results;
  }

  // Runs side by side share the cores instead of each sizing its thread pools to all of them.
  if (std::getenv("OMP_NUM_THREADS") == nullptr) {
    const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
    ::setenv("OMP_NUM_THREADS", std::to_string(std::max<std::size_t>(1, cores / jobs)).c_str(), 1);
  }
  struct Running {
    std::size_t index;
    std::unique_ptr<Subprocess> process;
    std::chrono::steady_clock::time_point start;
  };
  std::mutex output_mutex;  // whole lines, never two runs' halves
  std::vector<Running> running;
  std::size_t next = 0;
  while (next < count || !running.empty()) {
    while (running.size() < jobs && next < count) {
      const std::size_t i = next++;
      {
        std::lock_guard<std::mutex> lock(output_mutex);
        report << label(i) << std::endl;
      }
      SubprocessOptions options;
      options.pipe_stdout = true;
      options.pipe_stderr = true;
      Running run{i, start_train_command(executable, plan.runs[i].config_path, options), std::chrono::steady_clock::now()};
      const std::string prefix = "[" + plan.runs[i].name + "] ";
      run.process->forward_stdout_lines([&output_mutex, prefix](const std::string& line) {
        std::lock_guard<std::mutex> lock(output_mutex);
        std::cout << prefix << line << std::endl;
      });
      run.process->forward_stderr_lines([&output_mutex, prefix](const std::string& line) {
        std::lock_guard<std::mutex> lock(output_mutex);
        std::cerr << prefix << line << std::endl;
      });
      running.push_back(std::move(run));
    }
    for (auto it = running.begin(); it != running.end();) {
      const std::optional<int> status = it->process->try_wait();
      if (!status) {
        ++it;
        continue;
      }
      it->process.reset();  // joins the forwarders: the run's last lines are out
      results[it->index] = result_of(plan.runs[it->index].name, *status, it->start);
      {
        std::lock_guard<std::mutex> lock(output_mutex);
        report << label(it->index) << " " << outcome_text(results[it->index]) << std::endl;
      }
      it = running.erase(it);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return results;
}

}  // namespace selm
