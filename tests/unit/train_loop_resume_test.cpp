#include <gtest/gtest.h>

#include <numeric>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "selm/train/training_loop.hpp"
#include "selm/util/error.hpp"
#include "selm/util/files.hpp"
#include "support/test_support.hpp"
#include "support/train_toy.hpp"

namespace selm {
namespace SELM_UNITY_ID {

constexpr std::int64_t kExamples = 22;

// 22 examples, micro-batches of 3 (the last of 1), 2 per step: 4 steps per epoch, 3 epochs.
// Dropout is on, so the restored RNG state matters; so do decay, clipping and the schedule.
TrainConfig resume_config() {
  TrainConfig config;
  config.learning_rate = 2e-2;
  config.lr_schedule = LrScheduleType::cosine;
  config.warmup_ratio = 0.2;
  config.weight_decay = 0.05;
  config.max_grad_norm = 0.5;
  config.epochs = 3;
  config.batch_size = 3;
  config.gradient_accumulation_steps = 2;
  config.log_every = 1;
  config.save_every = 3;
  config.seed = 17;
  return config;
}

struct Trainee {
  test::ToyRegression model;
  TrainingLoopOptions options;
  StepFunction step;
};

// A new process's view: a model initialised from `init_seed` (resuming overwrites it).
Trainee make_trainee(const fs::path& dir, std::uint64_t init_seed, std::int64_t input_width = 8,
                     std::int64_t hidden_width = 16) {
  torch::manual_seed(init_seed);
  Trainee trainee{test::ToyRegression(0.2, input_width, hidden_width), {}, {}};
  trainee.options = test::toy_loop_options(trainee.model, dir, kExamples);
  trainee.step = test::toy_step_function(trainee.model, test::toy_regression_data(kExamples, 8, input_width));
  return trainee;
}

void expect_bit_identical(torch::nn::Module& a, torch::nn::Module& b) {
  const auto left = test::parameter_snapshot(a);
  const auto right = test::parameter_snapshot(b);
  ASSERT_EQ(left.size(), right.size());
  for (const auto& [name, value] : left) {
    EXPECT_TRUE(torch::equal(value, right.at(name)))
        << name << ": max difference " << (value - right.at(name)).abs().max().item<double>();
  }
}

std::vector<std::int64_t> logged_steps(const fs::path& file) {
  std::vector<std::int64_t> steps;
  for (const auto& [line, record] : read_jsonl(file)) steps.push_back(record.at("step").get<std::int64_t>());
  return steps;
}

class TrainLoopResume : public ::testing::Test {
 protected:
  void SetUp() override {
    previous_threads_ = torch::get_num_threads();
    torch::set_num_threads(2);
  }
  void TearDown() override { torch::set_num_threads(previous_threads_); }

 private:
  int previous_threads_ = 1;
};

TEST_F(TrainLoopResume, StoppedAndResumedRunEndsBitIdenticalToAStraightRun) {
  test::TempDir dir;
  const TrainConfig config = resume_config();
  Trainee straight = make_trainee(dir / "straight", 100);
  const TrainingResult straight_result = run_training_loop(*straight.model, config, straight.options, straight.step);
  ASSERT_EQ(straight_result.total_steps, 12);
  ASSERT_TRUE(straight_result.finished);

  Trainee first = make_trainee(dir / "resumed", 100);
  first.options.stop_after_step = 4;
  const TrainingResult first_result = run_training_loop(*first.model, config, first.options, first.step);
  EXPECT_EQ(first_result.completed_steps, 4);
  EXPECT_FALSE(first_result.finished);
  EXPECT_EQ(read_trainer_state(dir / "resumed" / "checkpoint").global_step, 4);

  Trainee second = make_trainee(dir / "resumed", 999);  // different initial weights: must be overwritten
  const TrainingResult second_result = run_training_loop(*second.model, config, second.options, second.step);
  EXPECT_EQ(second_result.resumed_from_step, 4);
  EXPECT_TRUE(second_result.finished);
  expect_bit_identical(*straight.model, *second.model);
  EXPECT_EQ(logged_steps(dir / "resumed" / "train_metrics.jsonl"), logged_steps(dir / "straight" / "train_metrics.jsonl"));
}

TEST_F(TrainLoopResume, CrashAfterACheckpointRedoesTheLostStepsExactly) {
  test::TempDir dir;
  const TrainConfig config = resume_config();
  Trainee straight = make_trainee(dir / "straight", 100);
  run_training_loop(*straight.model, config, straight.options, straight.step);

  // The process "dies" after step 5; the last checkpoint (save_every 3) is step 3, so steps 4-5
  // are lost and recomputed, across no epoch boundary, then the run crosses two.
  Trainee crashing = make_trainee(dir / "crashed", 100);
  crashing.options.on_step = [](const StepRecord& record) {
    if (record.step == 5) throw std::runtime_error("simulated crash");
  };
  EXPECT_THROW(run_training_loop(*crashing.model, config, crashing.options, crashing.step), std::runtime_error);
  EXPECT_EQ(read_trainer_state(dir / "crashed" / "checkpoint").global_step, 3);
  EXPECT_EQ(logged_steps(dir / "crashed" / "train_metrics.jsonl"), (std::vector<std::int64_t>{1, 2, 3, 4, 5}));

  Trainee resumed = make_trainee(dir / "crashed", 7);
  const TrainingResult result = run_training_loop(*resumed.model, config, resumed.options, resumed.step);
  EXPECT_EQ(result.resumed_from_step, 3);
  expect_bit_identical(*straight.model, *resumed.model);
  // Records of the lost steps were replaced, not duplicated.
  std::vector<std::int64_t> all_steps(12);
  std::iota(all_steps.begin(), all_steps.end(), std::int64_t{1});
  EXPECT_EQ(logged_steps(dir / "crashed" / "train_metrics.jsonl"), all_steps);
  const auto straight_records = read_jsonl(dir / "straight" / "train_metrics.jsonl");
  const auto resumed_records = read_jsonl(dir / "crashed" / "train_metrics.jsonl");
  for (std::size_t i = 0; i < 12; ++i) {
    EXPECT_EQ(resumed_records[i].second.at("loss"), straight_records[i].second.at("loss")) << "step " << i + 1;
    EXPECT_EQ(resumed_records[i].second.at("grad_norm"), straight_records[i].second.at("grad_norm"));
  }
}

TEST_F(TrainLoopResume, WideModelWithMultiThreadedKernelsResumesBitIdentically) {
  // 256 -> 1024 -> 1: 264k parameters, large enough for the matrix products and the AdamW
  // updates to be split across the two threads.
  test::TempDir dir;
  const TrainConfig config = resume_config();
  Trainee straight = make_trainee(dir / "straight", 100, 256, 1024);
  run_training_loop(*straight.model, config, straight.options, straight.step);
  Trainee first = make_trainee(dir / "resumed", 100, 256, 1024);
  first.options.stop_after_step = 6;
  run_training_loop(*first.model, config, first.options, first.step);
  Trainee second = make_trainee(dir / "resumed", 3, 256, 1024);
  EXPECT_EQ(run_training_loop(*second.model, config, second.options, second.step).resumed_from_step, 6);
  expect_bit_identical(*straight.model, *second.model);
}

TEST_F(TrainLoopResume, ResumingAFinishedRunDoesNothing) {
  test::TempDir dir;
  const TrainConfig config = resume_config();
  Trainee done = make_trainee(dir.path(), 100);
  run_training_loop(*done.model, config, done.options, done.step);
  Trainee again = make_trainee(dir.path(), 5);
  int calls = 0;
  const TrainingResult result = run_training_loop(*again.model, config, again.options,
                                                  [&](const std::vector<std::int64_t>& indices) {
                                                    ++calls;
                                                    return again.step(indices);
                                                  });
  EXPECT_EQ(calls, 0);
  EXPECT_TRUE(result.finished);
  EXPECT_EQ(result.resumed_from_step, 12);
  expect_bit_identical(*done.model, *again.model);
}

TEST_F(TrainLoopResume, CheckpointOfADifferentRunIsAnInputErrorNamingTheKey) {
  test::TempDir dir;
  TrainConfig config = resume_config();
  Trainee first = make_trainee(dir.path(), 100);
  first.options.stop_after_step = 3;
  run_training_loop(*first.model, config, first.options, first.step);
  config.batch_size = 2;
  Trainee second = make_trainee(dir.path(), 100);
  try {
    run_training_loop(*second.model, config, second.options, second.step);
    FAIL() << "expected an InputError";
  } catch (const InputError& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find("trainer_state.json: key 'batch_size'"), std::string::npos) << message;
  }
  // Without resume, the old checkpoint is discarded and the run starts over.
  second.options.resume = false;
  second.options.stop_after_step = 1;
  const TrainingResult fresh = run_training_loop(*second.model, config, second.options, second.step);
  EXPECT_EQ(fresh.resumed_from_step, 0);
  EXPECT_EQ(read_trainer_state(dir / "checkpoint").batch_size, 2);
  EXPECT_EQ(logged_steps(dir / "train_metrics.jsonl"), (std::vector<std::int64_t>{1}));
}

}  // namespace
}  // namespace selm
