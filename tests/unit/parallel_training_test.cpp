// Data-parallel training over Gloo between threads: two ranks with per-rank batch b take the
// steps of one process with batch b and twice the accumulation, bit for bit; a loss normalised
// by tokens gives the one-process loss of the whole micro-batch; a rank without examples joins in.
#include <gtest/gtest.h>

#include <iostream>
#include <thread>

#include <torch/torch.h>

#include "selm/parallel/communicator.hpp"
#include "selm/train/checkpoint.hpp"
#include "selm/train/optimizer_shards.hpp"
#include "selm/train/training_loop.hpp"
#include "support/test_support.hpp"
#include "support/train_toy.hpp"

namespace selm {
namespace SELM_UNITY_ID {

TrainConfig toy_config(std::int64_t batch_size, std::int64_t accumulation) {
  TrainConfig config;
  config.learning_rate = 1e-2;
  config.lr_schedule = LrScheduleType::constant;
  config.warmup_ratio = 0.0;
  config.weight_decay = 0.01;
  config.max_grad_norm = 1.0;
  config.epochs = 2;
  config.batch_size = batch_size;
  config.gradient_accumulation_steps = accumulation;
  config.log_every = 1;
  config.save_every = 0;
  config.seed = 9;
  return config;
}

struct RankRun {
  std::vector<StepRecord> records;
  std::map<std::string, torch::Tensor> final_parameters;
};

// Trains the same freshly seeded toy model on `world_size` ranks (threads of one Gloo group; 1
// runs without a group) and returns every rank's records and weights.
std::vector<RankRun> train_toy_on_ranks(const fs::path& dir, int world_size, const TrainConfig& config,
                                        std::int64_t num_examples,
                                        const std::function<StepFunction(test::ToyRegression, test::ToyRegressionData)>&
                                            make_step) {
  std::vector<test::ToyRegression> models;
  for (int rank = 0; rank < world_size; ++rank) {
    torch::manual_seed(21);
    models.emplace_back(0.0);
  }
  std::vector<std::shared_ptr<Communicator>> group;
  if (world_size > 1) group = local_gloo_group(world_size, std::chrono::seconds(60));
  std::vector<RankRun> runs(static_cast<std::size_t>(world_size));
  std::vector<std::exception_ptr> errors(static_cast<std::size_t>(world_size));
  const auto train = [&](int rank) {
    const auto r = static_cast<std::size_t>(rank);
    try {
      test::ToyRegression model = models[r];
      auto options = test::toy_loop_options(model, dir, num_examples);
      if (world_size > 1) options.parallel = parallel_context_of(group[r]);
      options.on_step = [&runs, r](const StepRecord& record) { runs[r].records.push_back(record); };
      run_training_loop(*model, config, options, make_step(model, test::toy_regression_data(num_examples, 4)));
      runs[r].final_parameters = test::parameter_snapshot(*model);
    } catch (...) {
      errors[r] = std::current_exception();
    }
  };
  std::vector<std::thread> threads;
  for (int rank = 0; rank < world_size; ++rank) threads.emplace_back(train, rank);
  for (auto& thread : threads) thread.join();
  for (const auto& error : errors) {
    if (error) std::rethrow_exception(error);
  }
  return runs;
}

StepFunction plain_step(test::ToyRegression model, test::ToyRegressionData data) {
  return test::toy_step_function(model, data);
}

TEST(ParallelTraining, TwoRanksEqualOneProcessWithTwiceTheAccumulationBitForBit) {
  test::TempDir dir;
  // 13 examples, per-rank batch 2: global micro-batches of 4, so every epoch ends with a
  // micro-batch of one example, which leaves rank 1 without any.
  const std::vector<RankRun> single = train_toy_on_ranks(dir / "single", 1, toy_config(2, 2), 13, plain_step);
  const std::vector<RankRun> pair = train_toy_on_ranks(dir / "pair", 2, toy_config(2, 1), 13, plain_step);
  ASSERT_EQ(single[0].records.size(), 8u);  // 4 steps (4, 4, 4, 1 examples) x 2 epochs
  for (const RankRun& rank : pair) {
    ASSERT_EQ(rank.records.size(), single[0].records.size());
    for (std::size_t step = 0; step < rank.records.size(); ++step) {
      EXPECT_EQ(rank.records[step].grad_norm, single[0].records[step].grad_norm) << step;
      EXPECT_NEAR(rank.records[step].metrics.at("loss"), single[0].records[step].metrics.at("loss"), 1e-12) << step;
      EXPECT_EQ(rank.records[step].num_tokens, single[0].records[step].num_tokens) << step;
    }
    for (const auto& [name, value] : single[0].final_parameters) {
      EXPECT_TRUE(torch::equal(value, rank.final_parameters.at(name))) << name;
    }
  }
  EXPECT_GT(single[0].records[0].grad_norm, 0.0);
}

// Squared error summed over "tokens": example i counts 1 + i mod 3 times, and the loss is the
// mean over tokens (the normaliser), as SFT's loss is.
StepFunction token_weighted_step(test::ToyRegression model, test::ToyRegressionData data) {
  return [model, data](const std::vector<std::int64_t>& indices) mutable {
    const torch::Tensor index = torch::tensor(indices, torch::kLong);
    const torch::Tensor weights = (index % 3 + 1).to(torch::kFloat32).unsqueeze(1);  // (B, 1)
    const torch::Tensor error = (model->forward(data.inputs.index_select(0, index)) -
                                 data.targets.index_select(0, index)).pow(2);      // (B, 1)
    const double tokens = weights.sum().item<double>();
    StepOutput output;
    output.loss = (error * weights).sum() / tokens;
    output.num_tokens = static_cast<std::int64_t>(tokens);
    output.normalizer = tokens;
    return output;
  };
}

TEST(ParallelTraining, ALossNormalisedByTokensEqualsOneProcessOnTheWholeMicroBatch) {
  test::TempDir dir;
  const std::vector<RankRun> single = train_toy_on_ranks(dir / "single", 1, toy_config(6, 1), 12, token_weighted_step);
  const std::vector<RankRun> pair = train_toy_on_ranks(dir / "pair", 2, toy_config(3, 1), 12, token_weighted_step);
  for (const RankRun& rank : pair) {
    ASSERT_EQ(rank.records.size(), single[0].records.size());
    for (std::size_t step = 0; step < rank.records.size(); ++step) {
      EXPECT_NEAR(rank.records[step].grad_norm, single[0].records[step].grad_norm,
                  1e-5 * single[0].records[step].grad_norm)
          << step;
    }
    for (const auto& [name, value] : single[0].final_parameters) {
      EXPECT_LE((value - rank.final_parameters.at(name)).abs().max().item<double>(), 1e-6) << name;
    }
  }
  EXPECT_GT(single[0].records[0].grad_norm, 0.0);
}

TEST(ParallelTraining, TheCheckpointRecordsTheWorldSizeAndAnotherIsRefused) {
  test::TempDir dir;
  TrainConfig config = toy_config(2, 1);
  config.save_every = 1;
  train_toy_on_ranks(dir / "run", 2, config, 8, plain_step);
  // Resuming the finished 2-rank checkpoint as one process would halve the global batch.
  torch::manual_seed(21);
  test::ToyRegression model(0.0);
  auto options = test::toy_loop_options(model, dir / "run", 8);
  const std::string message = test::input_error_of([&] {
    run_training_loop(*model, config, options, plain_step(model, test::toy_regression_data(8, 4)));
  });
  EXPECT_NE(message.find("key 'world_size': the checkpoint was made with 2 but this run has 1"), std::string::npos)
      << message;
}

TEST(ParallelTraining, ShardedOptimizerStateGivesTheSameWeightsAndEachRankHoldsItsShare) {
  test::TempDir dir;
  TrainConfig plain = toy_config(2, 1);
  plain.save_every = 0;
  TrainConfig sharded = plain;
  sharded.shard_optimizer_state = true;
  const std::vector<RankRun> unsharded_run = train_toy_on_ranks(dir / "plain", 2, plain, 13, plain_step);
  const std::vector<RankRun> sharded_run = train_toy_on_ranks(dir / "sharded", 2, sharded, 13, plain_step);
  for (const RankRun& rank : sharded_run) {
    for (const auto& [name, value] : unsharded_run[0].final_parameters) {
      EXPECT_LE((value - rank.final_parameters.at(name)).abs().max().item<double>(), 1e-6) << name;
    }
  }
  // The optimiser state each rank holds, as its checkpoint files store it: about half each.
  const fs::path whole = dir / "plain" / kCheckpointDirName / kCheckpointOptimizerFile;
  const fs::path first = dir / "sharded" / kCheckpointDirName / optimizer_shard_file(0);
  const fs::path second = dir / "sharded" / kCheckpointDirName / optimizer_shard_file(1);
  ASSERT_TRUE(fs::exists(first) && fs::exists(second));
  const auto moments = [](const fs::path& file) {  // floating-point elements (not the step counters)
    torch::serialize::InputArchive archive;
    archive.load_from(file.string());
    std::int64_t elements = 0;
    for (const std::string& key : archive.keys()) {
      torch::Tensor tensor;
      if (archive.try_read(key, tensor) && tensor.is_floating_point()) elements += tensor.numel();
    }
    return elements;
  };
  std::cout << "AdamW state elements: unsharded " << moments(whole) << ", rank 0 " << moments(first) << ", rank 1 "
            << moments(second) << "\n";
  // Shards are whole parameters: the toy's 128-element first matrix alone is rank 0's share
  // (of its 161 parameters; the other three tensors, 16 + 16 + 1, are rank 1's). Models of many layers split
  // evenly (`selm bench train --shard-optimizer-state` under launch reports it).
  EXPECT_EQ(moments(first) + moments(second), moments(whole));
  EXPECT_EQ(moments(first), 2 * 128);
  EXPECT_EQ(moments(second), 2 * (16 + 16 + 1));
  torch::manual_seed(21);
  test::ToyRegression model(0.0);
  const OptimizerShards shards(trainable_parameters(*model), 2);
  EXPECT_EQ(shards.elements_of(0), 128);
  EXPECT_EQ(shards.elements_of(1), 33);
}

TEST(ParallelTraining, AShardedCheckpointResumesToTheUninterruptedWeights) {
  test::TempDir dir;
  TrainConfig config = toy_config(2, 1);
  config.shard_optimizer_state = true;
  config.save_every = 1;
  const std::vector<RankRun> straight = train_toy_on_ranks(dir / "straight", 2, config, 13, plain_step);
  // Stopped after 3 of 8 steps, then resumed from the sharded checkpoint by fresh models.
  std::vector<test::ToyRegression> models;
  const auto group = local_gloo_group(2, std::chrono::seconds(60));
  for (const std::int64_t stop_after : {3, 0}) {
    std::vector<std::thread> threads;
    std::vector<std::map<std::string, torch::Tensor>> finals(2);
    for (int rank = 0; rank < 2; ++rank) {
      // The stopped run starts where the straight one did; the resumed one from other weights,
      // which the checkpoint must replace.
      torch::manual_seed(stop_after > 0 ? 21 : 99);
      models.emplace_back(0.0);
    }
    for (int rank = 0; rank < 2; ++rank) {
      threads.emplace_back([&, rank] {
        test::ToyRegression model = models[models.size() - 2 + static_cast<std::size_t>(rank)];
        auto options = test::toy_loop_options(model, dir / "resumed", 13);
        options.parallel = parallel_context_of(group[static_cast<std::size_t>(rank)]);
        options.stop_after_step = stop_after;
        run_training_loop(*model, config, options, plain_step(model, test::toy_regression_data(13, 4)));
        finals[static_cast<std::size_t>(rank)] = test::parameter_snapshot(*model);
      });
    }
    for (auto& thread : threads) thread.join();
    if (stop_after == 0) {
      for (const auto& final_parameters : finals) {
        for (const auto& [name, value] : straight[0].final_parameters) {
          EXPECT_TRUE(torch::equal(value, final_parameters.at(name)))
              << name << " " << (value - final_parameters.at(name)).abs().max().item<double>();
        }
      }
    }
  }
}

}  // namespace SELM_UNITY_ID
}  // namespace selm
