// A real crash: the training helper process is killed with SIGKILL at random moments (including
// inside checkpoint writes, which happen after every step), resumed each time, and its final
// weights must equal those of a run that was never interrupted, bit for bit.
#include <gtest/gtest.h>

#include <signal.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <iostream>
#include <numeric>
#include <random>
#include <thread>

#include <torch/torch.h>

#include "selm/model/hf_model_dir.hpp"
#include "selm/train/checkpoint.hpp"
#include "selm/util/files.hpp"
#include "support/test_support.hpp"
#include "support/train_loop_helper_config.hpp"
#include "support/train_toy.hpp"

namespace selm {
namespace SELM_UNITY_ID {

pid_t spawn_helper(const fs::path& output_dir, int step_delay_ms, int kill_in_save_number = 0) {
  const std::string program = SELM_TRAIN_LOOP_HELPER;
  const std::string dir = output_dir.string();
  const std::string delay = std::to_string(step_delay_ms);
  const std::string kill_number = std::to_string(kill_in_save_number);
  const std::string log = (output_dir.parent_path() / (output_dir.filename().string() + ".log")).string();
  const pid_t pid = ::fork();
  if (pid == 0) {
    // Child: only async-signal-safe calls before exec.
    const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      ::dup2(fd, STDOUT_FILENO);
      ::dup2(fd, STDERR_FILENO);
    }
    ::execl(program.c_str(), program.c_str(), dir.c_str(), delay.c_str(), kill_number.c_str(),
            static_cast<char*>(nullptr));
    ::_exit(127);
  }
  return pid;
}

int wait_exit_code(pid_t pid) {
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::int64_t checkpoint_step(const fs::path& output_dir) {
  // Reads while the helper may be renaming: a vanished directory simply means "try again".
  try {
    const auto checkpoint = find_checkpoint(output_dir);
    return checkpoint ? read_trainer_state(*checkpoint).global_step : 0;
  } catch (const std::exception&) {
    return -1;
  }
}

std::map<std::string, torch::Tensor> final_weights(const fs::path& output_dir) {
  test::ToyRegression model(0.0);
  load_module_weights(*model, output_dir / "final_model");
  return test::parameter_snapshot(*model);
}

TEST(TrainCheckpointSigkill, KilledAtRandomMomentsAndResumedEqualsAnUninterruptedRun) {
  test::TempDir dir;
  const std::int64_t total_steps = 40;  // helper_train_config(): 4 steps x 10 epochs
  ASSERT_EQ(wait_exit_code(spawn_helper(dir / "straight", 0)), 0) << test::read_text(dir / "straight.log");

  std::mt19937 random(20240531);
  const fs::path crashed = dir / "crashed";
  int kills = 0;
  int kills_inside_a_save = 0;  // informational: depends on timing
  std::int64_t last_step_seen = 0;
  for (int attempt = 0; attempt < 6 && checkpoint_step(crashed) < total_steps - 8; ++attempt) {
    const std::int64_t start_step = std::max<std::int64_t>(0, checkpoint_step(crashed));
    const pid_t pid = spawn_helper(crashed, 15);
    // Wait until at least two more checkpoints exist, then kill at a random moment.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (checkpoint_step(crashed) < start_step + 2 && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    std::this_thread::sleep_for(std::chrono::microseconds(std::uniform_int_distribution<int>(0, 40000)(random)));
    ASSERT_EQ(::kill(pid, SIGKILL), 0);
    const int code = wait_exit_code(pid);
    if (code == 128 + SIGKILL) ++kills;
    for (const auto& entry : fs::directory_iterator(crashed)) {
      if (entry.path().filename().string().rfind("checkpoint.tmp-", 0) == 0) ++kills_inside_a_save;
    }
    const std::int64_t step = checkpoint_step(crashed);
    EXPECT_GE(step, start_step) << "a checkpoint went backwards or was lost";
    EXPECT_GE(step, last_step_seen);
    last_step_seen = step;
  }
  EXPECT_GE(kills, 3);
  RecordProperty("kills", kills);
  RecordProperty("kills_inside_a_checkpoint_write", kills_inside_a_save);
  std::cout << kills << " kills, " << kills_inside_a_save << " of them inside a checkpoint write\n";
  ASSERT_EQ(wait_exit_code(spawn_helper(crashed, 0)), 0) << test::read_text(dir / "crashed.log");

  const auto expected = final_weights(dir / "straight");
  const auto actual = final_weights(crashed);
  for (const auto& [name, value] : expected) {
    EXPECT_TRUE(torch::equal(value, actual.at(name)))
        << name << ": max difference " << (value - actual.at(name)).abs().max().item<double>();
  }
  // Every step logged exactly once despite the kills.
  std::vector<std::int64_t> steps;
  for (const auto& [line, record] : read_jsonl(crashed / "train_metrics.jsonl")) {
    steps.push_back(record.at("step").get<std::int64_t>());
  }
  std::vector<std::int64_t> all_steps(static_cast<std::size_t>(total_steps));
  std::iota(all_steps.begin(), all_steps.end(), std::int64_t{1});
  EXPECT_EQ(steps, all_steps);
}

TEST(TrainCheckpointSigkill, KilledInsideACheckpointWriteResumesFromThePreviousOne) {
  test::TempDir dir;
  ASSERT_EQ(wait_exit_code(spawn_helper(dir / "straight", 0)), 0) << test::read_text(dir / "straight.log");
  const fs::path crashed = dir / "crashed";
  // Dies while writing its 3rd checkpoint (step 3), then while writing its 5th (step 7).
  ASSERT_EQ(wait_exit_code(spawn_helper(crashed, 0, 3)), 128 + SIGKILL);
  EXPECT_EQ(checkpoint_step(crashed), 2);
  bool half_written_checkpoint = false;
  for (const auto& entry : fs::directory_iterator(crashed)) {
    if (entry.path().filename().string().rfind("checkpoint.tmp-", 0) == 0) {
      half_written_checkpoint = true;
      EXPECT_TRUE(fs::exists(entry.path() / "model" / "model.safetensors"));
      EXPECT_FALSE(fs::exists(entry.path() / "trainer_state.json"));
    }
  }
  EXPECT_TRUE(half_written_checkpoint);
  ASSERT_EQ(wait_exit_code(spawn_helper(crashed, 0, 5)), 128 + SIGKILL);
  EXPECT_EQ(checkpoint_step(crashed), 6);
  ASSERT_EQ(wait_exit_code(spawn_helper(crashed, 0)), 0) << test::read_text(dir / "crashed.log");
  const auto expected = final_weights(dir / "straight");
  const auto actual = final_weights(crashed);
  for (const auto& [name, value] : expected) EXPECT_TRUE(torch::equal(value, actual.at(name))) << name;
}

}  // namespace
}  // namespace selm
