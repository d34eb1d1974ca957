// `selm train` against what happens around it: a second process on the same run directory, a
// lock left by a killed process, a cold task cache that two runs need at once, and a disk that
// fills up during generation, judging, checkpoint writing and the report.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <mutex>
#include <optional>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "selm/config/config.hpp"
#include "selm/tasks/task.hpp"
#include "selm/util/file_lock.hpp"
#include "selm/util/subprocess.hpp"
#include "support/online_run_fixture.hpp"
#include "support/test_support.hpp"

namespace selm {
namespace SELM_UNITY_ID {

using test::read_text;
using test::eval_without_paths;
using test::run_selm;
using test::sorted_lines;
namespace fs = std::filesystem;

class OnlineTrainHardening : public test::OnlineRunFixture {};

// A `selm` child whose output is collected while it runs.
class RunningSelm {
 public:
  explicit RunningSelm(const std::vector<std::string>& args, const std::string& program = SELM_BINARY) {
    std::vector<std::string> argv = {program};
    argv.insert(argv.end(), args.begin(), args.end());
    SubprocessOptions options;
    options.pipe_stdout = true;
    options.pipe_stderr = true;
    process_.emplace(argv, options);
    const auto collect = [this](const std::string& line) {
      std::lock_guard<std::mutex> lock(mutex_);
      output_ += line + "\n";
    };
    process_->forward_stdout_lines(collect);
    process_->forward_stderr_lines(collect);
  }
  Subprocess& process() { return *process_; }
  // The exit code (128 + signal when killed), once the child and its output have ended.
  int wait() {
    const int status = process_->wait();
    process_.reset();  // joins the forwarders: the output is complete
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  std::string output() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return output_;
  }

 private:
  std::optional<Subprocess> process_;
  mutable std::mutex mutex_;
  std::string output_;
};

TEST_F(OnlineTrainHardening, ASecondTrainOnTheSameRunDirectoryIsRefused) {
  // This process holds the run's lock, as a `selm train` working on it does.
  const fs::path lock_file = run_dir("locked") / "run.lock";
  std::optional<FileLock> holder = FileLock::try_acquire(lock_file);
  ASSERT_TRUE(holder);
  const auto refused = run_selm(train_args("locked"));
  EXPECT_EQ(refused.exit_code, 2) << refused.output;
  EXPECT_NE(refused.output.find("another selm train is working on this run (pid " + std::to_string(::getpid())),
            std::string::npos)
      << refused.output;
  EXPECT_NE(refused.output.find(lock_file.string()), std::string::npos) << refused.output;
  // It changed nothing there.
  EXPECT_FALSE(fs::exists(run_dir("locked") / "state.json"));
  EXPECT_FALSE(fs::exists(run_dir("locked") / "config.yaml"));
  holder.reset();
  const auto after_release = run_selm(train_args("locked", {"online.rounds=1", "eval.enabled=false"}));
  EXPECT_EQ(after_release.exit_code, 0) << after_release.output;
  EXPECT_EQ(after_release.output.find("taking over"), std::string::npos) << after_release.output;
}

TEST_F(OnlineTrainHardening, ALockLeftByAKilledTrainIsTakenOver) {
  const std::vector<std::string> args = train_args("killed_holder", {"online.rounds=1", "eval.enabled=false"});
  const fs::path lock_file = run_dir("killed_holder") / "run.lock";
  RunningSelm first(args);
  // Killed as soon as it holds the lock (the file names its pid).
  const std::string expected_holder = "pid " + std::to_string(first.process().pid()) + " on ";
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (FileLock::holder_of(lock_file).rfind(expected_holder, 0) != 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_EQ(FileLock::holder_of(lock_file).rfind(expected_holder, 0), 0u) << first.output();
  first.process().send_signal(SIGKILL);
  EXPECT_EQ(first.wait(), 128 + SIGKILL);
  EXPECT_EQ(FileLock::holder_of(lock_file).rfind(expected_holder, 0), 0u);  // the dead holder's record stays

  const auto second = run_selm(args);
  EXPECT_EQ(second.exit_code, 0) << second.output;
  EXPECT_NE(second.output.find("taking over the lock left by " + expected_holder), std::string::npos) << second.output;
  EXPECT_TRUE(fs::exists(run_dir("killed_holder") / "round-1" / "model" / "model.safetensors"));
  // Released at the end: no holder is recorded.
  EXPECT_EQ(FileLock::holder_of(lock_file), "");
}

TEST_F(OnlineTrainHardening, SizesThatCannotFitAreRefusedBeforeAnythingIsAllocated) {
  // Sizes whose memory the 64-bit products of a naive plan would wrap around to a few MiB.
  const std::vector<std::pair<std::string, std::string>> hostile = {
      {"train.batch_size", "4611686018427387904"},
      {"generate.batch_size", "9223372036854775807"},
      {"generate.max_new_tokens", "4611686018427387904"},
      {"train.batch_size", "100000000"},
      {"train.max_length", "1000000000"},
  };
  for (std::size_t i = 0; i < hostile.size(); ++i) {
    const auto& [key, value] = hostile[i];
    SCOPED_TRACE(key + "=" + value);
    const std::string name = "hostile_" + std::to_string(i);
    const auto refused = run_selm(train_args(name, {key + "=" + value}));
    EXPECT_EQ(refused.exit_code, 2) << refused.output;
    EXPECT_NE(refused.output.find("does not fit"), std::string::npos) << refused.output;
    EXPECT_NE(refused.output.find(key + "=" + value), std::string::npos) << refused.output;
    EXPECT_FALSE(fs::exists(run_dir(name))) << "nothing is written for a run that cannot start";
  }
}


TEST(TaskCacheLock, TwoSweepRunsNeedingTheSameColdTaskPrepareItOnce) {
  test::TempDir temp;
  test::write_synthetic_fortunes(temp / "fortunes");
  const std::string task_yaml =
      "task:\n  name: fortunes\n  fortunes_dir: " + (temp / "fortunes").string() + "\n  cache_dir: " +
      (temp / "cache").string() +
      "\n  max_chars: 200\n  eval_fraction: 0.1\n  eval_prompts: 20\n  vocab_size: 300\n  hidden_size: 32\n"
      "  intermediate_size: 64\n  num_hidden_layers: 1\n  num_attention_heads: 2\n  num_key_value_heads: 2\n"
      "  max_position_embeddings: 64\n  sft_epochs: 2\n  sft_learning_rate: 0.01\n  sft_max_length: 48\n";
  test::write_text(temp / "base.yaml",
                   task_yaml + "run:\n  output_dir: " + (temp / "runs").string() +
                       "\n  threads: 1\nonline:\n  rounds: 1\n  prompts_per_round: 4\ngenerate:\n  max_new_tokens: 8\n"
                       "  batch_size: 4\ntrain:\n  batch_size: 2\n  max_length: 48\n  max_prompt_length: 24\n"
                       "eval:\n  enabled: false\n");
  test::write_text(temp / "sweep.yaml", "name: cold\nbase: [base.yaml]\ngrid:\n  run.seed: [1, 2]\n");
  const Config config = load_config({(temp / "base.yaml").string()}, {});
  const fs::path entry = fs::path(config.task.cache_dir) / ("fortunes-" + task_cache_key(config));

  // This process holds the entry's lock while both runs start, so that both find the cache cold
  // and contend for it; released, one prepares and the other waits for it.
  std::optional<FileLock> gate = FileLock::try_acquire(entry.string() + ".lock");
  ASSERT_TRUE(gate);
  RunningSelm sweep({"sweep", "-c", (temp / "sweep.yaml").string(), "--local", "--jobs", "2"});
  std::this_thread::sleep_for(std::chrono::seconds(3));
  gate.reset();
  const int code = sweep.wait();
  const std::string output = sweep.output();
  ASSERT_EQ(code, 0) << output;
  EXPECT_NE(output.find("sweep cold: 2 of 2 runs ok"), std::string::npos) << output;

  const auto count = [&](const std::string& text) {
    int found = 0;
    for (std::size_t at = output.find(text); at != std::string::npos; at = output.find(text, at + 1)) ++found;
    return found;
  };
  EXPECT_EQ(count("task fortunes: preparing "), 1) << output;
  EXPECT_EQ(count("task fortunes: reusing "), 1) << output;
  // Both waited for this process first (the one that then waits for the other says nothing more).
  EXPECT_EQ(count("task fortunes: waiting for pid " + std::to_string(::getpid())), 2) << output;
  EXPECT_TRUE(fs::is_regular_file(entry / kTaskDoneFile));
  for (const char* run : {"cold-seed=1", "cold-seed=2"}) {
    EXPECT_TRUE(fs::is_regular_file(temp / "runs" / "cold" / run / "round-1" / "model" / "model.safetensors")) << run;
  }
}

// A tmpfs of its own, mounted for the test (root only) and unmounted after it.
class TmpfsMount {
 public:
  TmpfsMount(const fs::path& at, const std::string& size) : at_(at) {
    fs::create_directories(at);
    if (::mount("tmpfs", at.c_str(), "tmpfs", 0, ("size=" + size).c_str()) != 0) error_ = std::strerror(errno);
  }
  ~TmpfsMount() {
    if (error_.empty()) ::umount2(at_.c_str(), MNT_DETACH);
  }
  const std::string& error() const { return error_; }

 private:
  fs::path at_;
  std::string error_;
};



TEST_F(OnlineTrainHardening, AFullDiskStopsTheRunCleanlyAndItResumesOnceSpaceIsFreed) {
  if (::geteuid() != 0) GTEST_SKIP() << "mounting the test's tmpfs needs root (CI runs as root)";
  test::TempDir mount_point;
  TmpfsMount tmpfs(mount_point.path(), "64m");
  if (!tmpfs.error().empty()) GTEST_SKIP() << "cannot mount a tmpfs: " << tmpfs.error();
  const fs::path runs = mount_point / "runs";
  const fs::path filler = mount_point / "filler";
  const auto args = [&](const std::vector<std::string>& extra) {
    std::vector<std::string> all = train_args("disk_full", {"run.output_dir=" + runs.string()});
    all.insert(all.end(), extra.begin(), extra.end());
    return all;
  };
  const auto straight = run_selm(train_args("disk_full_straight"));
  ASSERT_EQ(straight.exit_code, 0) << straight.output;

  // Each step runs to a stage boundary, then fills the disk at a chosen write of a resumed run:
  // the next write that needs space is the file named, in the stage named.
  struct FullDiskPoint {
    const char* stop_after;   // stage to reach first, with the disk free
    const char* fill_after;   // NAME:N of the resumed run's write after which the disk is full
    const char* failing_file; // what the error must name
    const char* stage;        // the stage it happens in, not marked complete
  };
  const std::vector<FullDiskPoint> points = {
      {"round-1/select", "initial_model.json:1", "round-1/generations.jsonl", "round-1/generate"},
      {"round-1/generate", "initial_model.json:1", "round-1/judgments.jsonl", "round-1/judge"},
      {"round-1/reference", "train_metrics.jsonl:1", "round-1/checkpoint", "round-1/train"},
      {"round-2/eval", "state.json:2", "report.html", "report"},
  };
  for (const FullDiskPoint& point : points) {
    SCOPED_TRACE(point.stage);
    const auto reached = run_selm(args({"--stop-after-stage", point.stop_after}));
    ASSERT_EQ(reached.exit_code, 0) << reached.output;
    ::setenv("SELM_FILL_DISK_AFTER_WRITE", point.fill_after, 1);
    ::setenv("SELM_FILL_DISK_FILE", filler.c_str(), 1);
    const auto full = test::run_program(SELM_FAULT_BINARY, args({}));
    ::unsetenv("SELM_FILL_DISK_AFTER_WRITE");
    ::unsetenv("SELM_FILL_DISK_FILE");
    EXPECT_TRUE(fs::exists(filler));
    EXPECT_EQ(full.exit_code, 1) << full.output;
    EXPECT_NE(full.output.find("No space left on device"), std::string::npos) << full.output;
    EXPECT_NE(full.output.find((runs / "disk_full").string() + "/" + point.failing_file), std::string::npos)
        << full.output;
    const std::size_t error_at = full.output.find("selm: failed: ");  // a runtime failure, not bad input
    EXPECT_NE(error_at, std::string::npos) << full.output;
    std::cout << point.stage << ": " << (error_at == std::string::npos ? full.output : full.output.substr(error_at));
    // The run directory is consistent: its state is whole and the failed stage is not complete.
    const nlohmann::json state = nlohmann::json::parse(read_text(runs / "disk_full" / "state.json"));
    const auto& completed = state.at("completed");
    EXPECT_EQ(std::find(completed.begin(), completed.end(), point.stage), completed.end()) << state.dump();
    fs::remove(filler);
  }
  const auto resumed = run_selm(args({}));
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_TRUE(fs::is_regular_file(runs / "disk_full" / "report.html"));

  // The same results as a run that never saw a full disk.
  for (const char* round : {"round-1", "round-2"}) {
    for (const char* file : {"prompts.jsonl", "generations.jsonl", "judgments.jsonl", "preferences.jsonl",
                             "preferences_with_reference.jsonl", "pairing.json", "eval_generations.jsonl"}) {
      EXPECT_EQ(sorted_lines(runs / "disk_full" / round / file), sorted_lines(run_dir("disk_full_straight") / round / file))
          << round << "/" << file;
    }
    EXPECT_EQ(eval_without_paths(runs / "disk_full" / round / "eval.json"),
              eval_without_paths(run_dir("disk_full_straight") / round / "eval.json"));
    EXPECT_EQ(read_text(runs / "disk_full" / round / "model" / "model.safetensors"),
              read_text(run_dir("disk_full_straight") / round / "model" / "model.safetensors"))
        << round;
  }
}

}  // namespace SELM_UNITY_ID
}  // namespace selm
