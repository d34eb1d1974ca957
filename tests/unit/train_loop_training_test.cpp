#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "selm/model/hf_model_dir.hpp"
#include "selm/train/optimizer.hpp"
#include "selm/train/shuffle.hpp"
#include "selm/train/training_loop.hpp"
#include "selm/util/error.hpp"
#include "selm/util/files.hpp"
#include "support/test_support.hpp"
#include "support/train_toy.hpp"

namespace selm {
namespace SELM_UNITY_ID {

TrainConfig toy_config() {
  TrainConfig config;
  config.learning_rate = 1e-2;
  config.lr_schedule = LrScheduleType::constant;
  config.warmup_ratio = 0.0;
  config.weight_decay = 0.0;
  config.max_grad_norm = 0.0;
  config.epochs = 1;
  config.batch_size = 4;
  config.gradient_accumulation_steps = 1;
  config.log_every = 1;
  config.save_every = 0;
  config.seed = 9;
  return config;
}

struct ToyRun {
  std::vector<StepRecord> records;
  std::vector<std::map<std::string, torch::Tensor>> parameters_after_step;
  std::map<std::string, torch::Tensor> final_parameters;
  TrainingResult result;
};

// Trains a freshly seeded toy model (no dropout unless asked) on `num_examples` examples.
ToyRun run_toy(const fs::path& dir, const TrainConfig& config, std::int64_t num_examples, double dropout = 0.0) {
  torch::manual_seed(21);
  test::ToyRegression model(dropout);
  auto options = test::toy_loop_options(model, dir, num_examples);
  ToyRun run;
  options.on_step = [&run, model](const StepRecord& record) mutable {
    run.records.push_back(record);
    run.parameters_after_step.push_back(test::parameter_snapshot(*model));
  };
  run.result = run_training_loop(*model, config, options,
                                 test::toy_step_function(model, test::toy_regression_data(num_examples, 4)));
  run.final_parameters = test::parameter_snapshot(*model);
  return run;
}

TEST(TrainLoopTraining, PlanCountsPartialBatchesAndSteps) {
  TrainConfig config = toy_config();
  config.batch_size = 4;
  config.gradient_accumulation_steps = 2;
  config.epochs = 3;
  const TrainingPlan plan = plan_training(30, config);  // 8 micro-batches (last of 2) -> 4 steps
  EXPECT_EQ(plan.micro_batches_per_epoch, 8);
  EXPECT_EQ(plan.steps_per_epoch, 4);
  EXPECT_EQ(plan.total_steps, 12);
  EXPECT_EQ(plan_training(29, config).steps_per_epoch, 4);  // 8 micro-batches, the last of 1
  EXPECT_EQ(plan_training(25, config).steps_per_epoch, 4);  // 7 micro-batches: the last step has 1
  EXPECT_EQ(micro_batch_examples(30, config, 0, 7).size(), 2u);
  config.batch_size = 0;
  EXPECT_THROW(plan_training(30, config), InputError);
}

TEST(TrainLoopTraining, EveryExampleIsSeenOncePerEpochInTheSeededOrder) {
  test::TempDir dir;
  TrainConfig config = toy_config();
  config.batch_size = 3;
  config.gradient_accumulation_steps = 2;
  config.epochs = 2;
  torch::manual_seed(1);
  test::ToyRegression model(0.0);
  auto options = test::toy_loop_options(model, dir.path(), 10);
  const auto base_step = test::toy_step_function(model, test::toy_regression_data(10, 4));
  std::vector<std::vector<std::int64_t>> batches;
  run_training_loop(*model, config, options, [&](const std::vector<std::int64_t>& indices) {
    batches.push_back(indices);
    return base_step(indices);
  });
  // 10 examples in micro-batches of 3, 3, 3, 1 per epoch.
  ASSERT_EQ(batches.size(), 8u);
  for (int epoch = 0; epoch < 2; ++epoch) {
    std::vector<std::int64_t> seen;
    for (int m = 0; m < 4; ++m) {
      const auto& batch = batches[static_cast<std::size_t>(epoch * 4 + m)];
      EXPECT_EQ(batch, micro_batch_examples(10, config, epoch, m));
      seen.insert(seen.end(), batch.begin(), batch.end());
    }
    EXPECT_EQ(seen, epoch_permutation(10, static_cast<std::uint64_t>(config.seed), epoch));
  }
}

// Norm of the first-moment estimates stored in a checkpoint's optimizer.pt, over every
// parameter: after one step it is (1 - beta1) times the norm of the gradient that was applied.
double stored_exp_avg_norm(const fs::path& optimizer_file) {
  torch::serialize::InputArchive archive;
  archive.load_from(optimizer_file.string());
  double squares = 0.0;
  for (int group = 0; group < 2; ++group) {
    for (int index = 0;; ++index) {
      torch::Tensor exp_avg;
      if (!archive.try_read("group" + std::to_string(group) + "_param" + std::to_string(index) + "_exp_avg", exp_avg)) break;
      squares += exp_avg.to(torch::kFloat64).pow(2).sum().item<double>();
    }
  }
  return std::sqrt(squares);
}

TEST(TrainLoopTraining, ScheduleSetsTheOptimiserLearningRateEveryStep) {
  test::TempDir dir;
  TrainConfig config = toy_config();
  config.lr_schedule = LrScheduleType::cosine;
  config.warmup_ratio = 0.2;  // ceil(0.2 * 10) = 2 warmup steps
  config.batch_size = 2;
  const ToyRun run = run_toy(dir.path(), config, 20);  // 10 steps
  ASSERT_EQ(run.records.size(), 10u);
  const double peak = 1e-2;
  const double pi = 3.14159265358979323846;
  for (int step = 0; step < 10; ++step) {
    const double expected = step < 2 ? peak * step / 2.0 : peak * 0.5 * (1.0 + std::cos(pi * (step - 2) / 8.0));
    EXPECT_NEAR(run.records[static_cast<std::size_t>(step)].learning_rate, expected, 1e-15) << "step " << step;
  }
  // Step 1 ran at learning rate 0: the weights did not move. Step 2 (rate peak/2) moved them.
  torch::manual_seed(21);
  test::ToyRegression initial(0.0);
  for (const auto& [name, value] : test::parameter_snapshot(*initial)) {
    EXPECT_TRUE(torch::equal(run.parameters_after_step[0].at(name), value)) << name;
    EXPECT_FALSE(torch::equal(run.parameters_after_step[1].at(name), value)) << name;
  }
  config.lr_schedule = LrScheduleType::constant;
  const ToyRun constant = run_toy(dir / "constant", config, 20);
  EXPECT_EQ(constant.records[1].learning_rate, peak / 2);
  for (std::size_t step = 2; step < 10; ++step) EXPECT_EQ(constant.records[step].learning_rate, peak);
}

TEST(TrainLoopTraining, AccumulatingTwoMicroBatchesOfTwoEqualsOneBatchOfFour) {
  test::TempDir dir;
  TrainConfig whole = toy_config();
  whole.batch_size = 4;
  whole.max_grad_norm = 0.0;
  TrainConfig accumulated = whole;
  accumulated.batch_size = 2;
  accumulated.gradient_accumulation_steps = 2;
  // 14 examples: steps of 4, 4, 4 and a short last step of 2 examples in both set-ups.
  const ToyRun a = run_toy(dir / "whole", whole, 14);
  const ToyRun b = run_toy(dir / "accumulated", accumulated, 14);
  ASSERT_EQ(a.records.size(), 4u);
  ASSERT_EQ(b.records.size(), 4u);
  for (std::size_t step = 0; step < 4; ++step) {
    EXPECT_NEAR(a.records[step].grad_norm, b.records[step].grad_norm, 1e-6 * a.records[step].grad_norm) << step;
    EXPECT_NEAR(a.records[step].metrics.at("loss"), b.records[step].metrics.at("loss"), 1e-6) << step;
    EXPECT_EQ(a.records[step].num_tokens, b.records[step].num_tokens);
    for (const auto& [name, value] : a.parameters_after_step[step]) {
      EXPECT_LE((value - b.parameters_after_step[step].at(name)).abs().max().item<double>(), 1e-6) << name;
    }
  }
  // Summing instead of averaging would double the gradient of accumulated steps.
  EXPECT_GT(a.records[0].grad_norm, 0.0);
}

TEST(TrainLoopTraining, ClippingCapsTheAppliedGradientNorm) {
  test::TempDir dir;
  TrainConfig config = toy_config();
  config.batch_size = 8;
  config.adam_beta1 = 0.9;
  config.max_grad_norm = 0.01;
  const ToyRun clipped = run_toy(dir / "clipped", config, 8);  // one step
  ASSERT_EQ(clipped.records.size(), 1u);
  const double raw_norm = clipped.records[0].grad_norm;
  EXPECT_GT(raw_norm, 0.1);  // reported before clipping
  const double applied = stored_exp_avg_norm(dir / "clipped" / "checkpoint" / "optimizer.pt") / (1.0 - 0.9);
  EXPECT_NEAR(applied, 0.01, 1e-6);

  config.max_grad_norm = 0.0;
  const ToyRun unclipped = run_toy(dir / "unclipped", config, 8);
  EXPECT_NEAR(unclipped.records[0].grad_norm, raw_norm, 1e-6 * raw_norm);
  const double applied_unclipped = stored_exp_avg_norm(dir / "unclipped" / "checkpoint" / "optimizer.pt") / (1.0 - 0.9);
  EXPECT_NEAR(applied_unclipped, raw_norm, 1e-5 * raw_norm);
}

TEST(TrainLoopTraining, MetricsFileHasOneRecordPerLogIntervalWithTheExpectedKeys) {
  test::TempDir dir;
  TrainConfig config = toy_config();
  config.batch_size = 2;
  config.log_every = 3;
  const ToyRun run = run_toy(dir.path(), config, 20);  // 10 steps: records at 3, 6, 9 and the last
  const auto records = read_jsonl(dir / "train_metrics.jsonl");
  ASSERT_EQ(records.size(), 4u);
  const std::vector<std::int64_t> expected_steps = {3, 6, 9, 10};
  for (std::size_t i = 0; i < records.size(); ++i) {
    const nlohmann::json& record = records[i].second;
    EXPECT_EQ(record.at("step").get<std::int64_t>(), expected_steps[i]);
    for (const char* key : {"epoch", "learning_rate", "grad_norm", "tokens_per_second", "elapsed_seconds", "loss",
                            "mean_abs_error", "tokens"}) {
      EXPECT_TRUE(record.contains(key)) << key << " in " << record.dump();
    }
    EXPECT_GT(record.at("tokens_per_second").get<double>(), 0.0);
  }
  // A record averages the steps since the previous one.
  const double mean_loss = (run.records[3].metrics.at("loss") + run.records[4].metrics.at("loss") +
                            run.records[5].metrics.at("loss")) / 3.0;
  EXPECT_NEAR(records[1].second.at("loss").get<double>(), mean_loss, 1e-12);
  EXPECT_EQ(records[1].second.at("tokens").get<std::int64_t>(), 3 * 2 * 8);
  EXPECT_DOUBLE_EQ(records[3].second.at("epoch").get<double>(), 1.0);
  EXPECT_EQ(records[3].second.at("learning_rate").get<double>(), 1e-2);
}

TEST(TrainLoopTraining, NonFiniteLossStopsBeforeTheStepAndKeepsTheLastCheckpoint) {
  test::TempDir dir;
  TrainConfig config = toy_config();
  config.batch_size = 2;
  config.save_every = 2;
  torch::manual_seed(21);
  test::ToyRegression model(0.0);
  auto options = test::toy_loop_options(model, dir.path(), 20);
  std::map<std::string, torch::Tensor> after_step_4;
  options.on_step = [&](const StepRecord& record) {
    if (record.step == 4) after_step_4 = test::parameter_snapshot(*model);
  };
  const auto base_step = test::toy_step_function(model, test::toy_regression_data(20, 4));
  int calls = 0;
  const StepFunction poisoned = [&](const std::vector<std::int64_t>& indices) {
    StepOutput output = base_step(indices);
    if (++calls == 5) output.loss = output.loss * std::numeric_limits<double>::quiet_NaN();
    return output;
  };
  try {
    run_training_loop(*model, config, options, poisoned);
    FAIL() << "expected NonFiniteTrainingError";
  } catch (const NonFiniteTrainingError& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find("step 5/10"), std::string::npos) << message;
    EXPECT_NE(message.find("loss is nan"), std::string::npos) << message;
    EXPECT_NE(message.find("(step 4)"), std::string::npos) << message;
  }
  // The optimiser step was not taken, and checkpoint/ still holds step 4.
  for (const auto& [name, value] : test::parameter_snapshot(*model)) {
    EXPECT_TRUE(torch::equal(value, after_step_4.at(name))) << name;
  }
  EXPECT_EQ(read_trainer_state(dir / "checkpoint").global_step, 4);
  test::ToyRegression stored(0.0);
  load_module_weights(*stored, dir / "checkpoint" / "model");
  for (const auto& [name, value] : test::parameter_snapshot(*stored)) {
    EXPECT_TRUE(torch::equal(value, after_step_4.at(name))) << name;
  }
  EXPECT_EQ(read_jsonl(dir / "train_metrics.jsonl").size(), 4u);

  // An infinite metric is caught the same way and named.
  const StepFunction infinite_metric = [&](const std::vector<std::int64_t>& indices) {
    StepOutput output = base_step(indices);
    output.metrics["rewards/margins"] = std::numeric_limits<double>::infinity();
    return output;
  };
  options.resume = false;
  try {
    run_training_loop(*model, config, options, infinite_metric);
    FAIL() << "expected NonFiniteTrainingError";
  } catch (const NonFiniteTrainingError& error) {
    EXPECT_NE(std::string(error.what()).find("step 1/10"), std::string::npos) << error.what();
    EXPECT_NE(std::string(error.what()).find("metric 'rewards/margins' is inf"), std::string::npos) << error.what();
  }
}

}  // namespace
}  // namespace selm
