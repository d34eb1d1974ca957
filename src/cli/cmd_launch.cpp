// `selm launch --nproc N -- selm <command> ...`: N local ranks of a data-parallel job, the way
// torchrun starts them. Each rank gets the torchrun environment (RANK, WORLD_SIZE, LOCAL_RANK,
// LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT) and its lines are prefixed with "[rank R] ".
// SIGINT, SIGTERM and SIGUSR1 are forwarded to every rank. When a rank fails, the others are
// stopped (SIGTERM, then SIGKILL after a grace period) and the launcher exits with the failed
// rank's code. srun and torchrun start the same job equally well.
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "commands.hpp"
#include "selm/util/cpu_threads.hpp"
#include "selm/util/error.hpp"
#include "selm/util/subprocess.hpp"

namespace selm::cli {

namespace {

namespace fs = std::filesystem;

std::atomic<int> pending_signal{0};
extern "C" void remember_signal(int signal) { pending_signal.store(signal); }

struct LaunchArgs {
  int nproc = 1;
  int master_port = 0;
  std::string master_addr = "127.0.0.1";
  double grace_seconds = 30;
  std::vector<std::string> command;
};

// A port nobody listens on now, asked of the kernel.
int free_local_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw std::runtime_error("launch: cannot open a socket to find a free port");
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  socklen_t length = sizeof(address);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    ::close(fd);
    throw std::runtime_error("launch: cannot find a free port (pass --master-port)");
  }
  const int port = ntohs(address.sin_port);
  ::close(fd);
  return port;
}

// The exit code a shell would report for a waitpid status.
int exit_code_of(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 1;
}

// The program to run: "selm" is this executable, so that a build tree's selm launches itself.
std::vector<std::string> resolve_command(std::vector<std::string> command, SubprocessOptions& options) {
  if (command.empty()) throw InputError("launch: no command after --, e.g. selm launch --nproc 2 -- selm train -c run.yaml");
  if (command.front() == "selm") {
    std::error_code error;
    const auto self = fs::read_symlink("/proc/self/exe", error);
    if (!error) command.front() = self.string();
  }
  options.search_path = command.front().find('/') == std::string::npos;
  return command;
}

int run_launch(const LaunchArgs& args) {
  if (args.nproc < 1) throw InputError("launch: --nproc must be at least 1");
  SubprocessOptions options;
  options.pipe_stdout = true;
  options.pipe_stderr = true;
  // A launcher that is killed takes its ranks with it, so that no orphan keeps training.
  options.die_with_parent = true;
  // A Ctrl-C reaches the ranks once, forwarded: a second SIGINT would make them stop at once.
  options.own_process_group = true;
  const std::vector<std::string> command = resolve_command(args.command, options);
  const int port = args.master_port > 0 ? args.master_port : free_local_port();

  // The ranks share the cores the launcher was given, as torchrun does, unless the user chose.
  if (std::getenv("OMP_NUM_THREADS") == nullptr) {
    const int threads = std::max(1, machine_cores() / args.nproc);
    ::setenv("OMP_NUM_THREADS", std::to_string(threads).c_str(), 1);
  }
  ::setenv("WORLD_SIZE", std::to_string(args.nproc).c_str(), 1);
  ::setenv("LOCAL_WORLD_SIZE", std::to_string(args.nproc).c_str(), 1);
  ::setenv("MASTER_ADDR", args.master_addr.c_str(), 1);
  ::setenv("MASTER_PORT", std::to_string(port).c_str(), 1);

  for (const int signal : {SIGINT, SIGTERM, SIGUSR1}) std::signal(signal, remember_signal);
  std::mutex output_mutex;
  std::vector<std::unique_ptr<Subprocess>> ranks;
  for (int rank = 0; rank < args.nproc; ++rank) {
    ::setenv("RANK", std::to_string(rank).c_str(), 1);
    ::setenv("LOCAL_RANK", std::to_string(rank).c_str(), 1);
    try {
      ranks.push_back(std::make_unique<Subprocess>(command, options));
    } catch (const SubprocessError& error) {
      if (error.stage() != SubprocessError::Stage::exec) throw;
      throw InputError(std::string("launch: ") + error.what());  // the command after -- is bad input
    }
    const std::string prefix = "[rank " + std::to_string(rank) + "] ";
    ranks.back()->forward_stdout_lines([&output_mutex, prefix](const std::string& line) {
      const std::lock_guard<std::mutex> lock(output_mutex);
      std::cout << prefix << line << std::endl;
    });
    ranks.back()->forward_stderr_lines([&output_mutex, prefix](const std::string& line) {
      const std::lock_guard<std::mutex> lock(output_mutex);
      std::cerr << prefix << line << std::endl;
    });
  }

  std::vector<std::optional<int>> codes(ranks.size());
  std::optional<int> first_failure;  // the rank whose failure ended the job
  bool kill_pending = false;  // SIGKILL the ranks left at kill_deadline
  std::chrono::steady_clock::time_point kill_deadline;
  const auto stop_others = [&](int signal) {
    for (std::size_t rank = 0; rank < ranks.size(); ++rank) {
      if (!codes[rank]) ranks[rank]->send_signal(signal);
    }
  };
  std::size_t running = ranks.size();
  while (running > 0) {
    if (const int signal = pending_signal.exchange(0); signal != 0) stop_others(signal);
    for (std::size_t rank = 0; rank < ranks.size(); ++rank) {
      if (codes[rank]) continue;
      const std::optional<int> status = ranks[rank]->try_wait();
      if (!status) continue;
      codes[rank] = exit_code_of(*status);
      --running;
      if (*codes[rank] != 0 && !first_failure) {
        first_failure = static_cast<int>(rank);
        {
          const std::lock_guard<std::mutex> lock(output_mutex);
          std::cerr << "selm launch: rank " << rank << " " << describe_wait_status(*status)
                    << "; stopping the other ranks\n";
        }
        stop_others(SIGTERM);
        kill_pending = true;
        kill_deadline = std::chrono::steady_clock::now() +
                        std::chrono::milliseconds(static_cast<std::int64_t>(args.grace_seconds * 1000));
      }
    }
    if (kill_pending && std::chrono::steady_clock::now() > kill_deadline) {
      stop_others(SIGKILL);
      kill_pending = false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ranks.clear();  // joins the output forwarders
  // Every non-zero code sets first_failure: without one, every rank exited 0.
  return first_failure ? *codes[static_cast<std::size_t>(*first_failure)] : 0;
}

}  // namespace

void register_launch_command(CLI::App& app) {
  auto* command = app.add_subcommand(
      "launch", "Start N local ranks of a data-parallel job: selm launch --nproc N -- selm <command> ...");
  auto args = std::make_shared<LaunchArgs>();
  command->add_option("--nproc", args->nproc, "Processes (ranks) to start on this machine")->required()->check(CLI::Range(1, 1024));
  command->add_option("--master-port", args->master_port,
                      "Port of rank 0's store (default: a free port)")->check(CLI::Range(1, 65535));
  command->add_option("--master-addr", args->master_addr, "Address of rank 0 (default 127.0.0.1)");
  command->add_option("--grace-seconds", args->grace_seconds,
                      "After a rank fails, how long the others get to exit before they are killed")
      ->check(CLI::NonNegativeNumber);
  command->add_option("command", args->command, "The command each rank runs, after --")->required();
  command->footer(
      "Each rank gets RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR and MASTER_PORT, and\n"
      "OMP_NUM_THREADS = cores / N unless it is set. Output lines are prefixed with [rank R].\n"
      "SIGINT, SIGTERM and SIGUSR1 go to every rank. If a rank fails, the others get SIGTERM (SIGKILL after\n"
      "--grace-seconds) and launch exits with the failed rank's code.\n"
      "Under SLURM use srun instead (scripts/slurm/multi_node.sbatch); torchrun works too.");
  command->callback([args] {
    const int code = run_launch(*args);
    if (code != 0) throw CLI::RuntimeError(code);
  });
}

}  // namespace selm::cli
