// LoRA training through the training loop: only the adapters train and have AdamW state, and a
// run stopped after a checkpoint and resumed in a fresh model ends with bit-identical weights.
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "selm/model/llama.hpp"
#include "selm/model/llama_checkpoint.hpp"
#include "selm/model/lora.hpp"
#include "selm/train/optimizer.hpp"
#include "selm/train/training_loop.hpp"
#include "selm/train/training_runtime_options.hpp"
#include "support/lora_test_model.hpp"
#include "support/test_support.hpp"

namespace selm {
namespace SELM_UNITY_ID {

constexpr std::int64_t kExamples = 10;

TrainConfig resume_train_config() {
  TrainConfig config;
  config.learning_rate = 5e-3;
  config.weight_decay = 0.01;
  config.epochs = 2;
  config.batch_size = 2;
  config.gradient_accumulation_steps = 2;  // 3 steps per epoch, 6 in all
  config.save_every = 2;
  config.seed = 3;
  config.lora.rank = 4;
  config.lora.alpha = 8;
  config.lora.target_modules = {"q_proj", "v_proj", "down_proj"};
  return config;
}

// A new process's view: the same base weights (the round's starting model), the
// adapters from the config's seed, whatever torch's generator holds afterwards.
LlamaForCausalLM make_model(const TrainConfig& train) {
  torch::manual_seed(77);
  LlamaForCausalLM model(test::lora_test_config(), training_runtime_options(train));
  torch::manual_seed(1000);
  return model;
}

struct Loop {
  TrainingLoopOptions options;
  StepFunction step;
};

// Next-token loss on fixed random sequences; checkpoints through the functions the trainers use.
Loop make_loop(LlamaForCausalLM& model, const fs::path& dir, std::int64_t stop_after_step) {
  torch::manual_seed(8);
  const torch::Tensor sequences = torch::randint(0, 61, {kExamples, 9}, torch::kInt64);
  Loop loop;
  loop.options.output_dir = dir;
  loop.options.num_examples = kExamples;
  loop.options.config_yaml = "lora resume test\n";
  loop.options.stop_after_step = stop_after_step;
  loop.options.show_progress = false;
  loop.options.save_model = [model](const fs::path& model_dir) mutable {
    save_llama(model, model_dir, kDefaultMaxShardBytes, AdapterWeights::alongside);
  };
  loop.options.load_model = [model](const fs::path& model_dir) mutable {
    load_llama_weights(model, model_dir, AdapterWeights::alongside);
  };
  loop.step = [model, sequences](const std::vector<std::int64_t>& indices) mutable {
    const torch::Tensor rows = sequences.index_select(0, torch::tensor(indices, torch::kInt64));
    const torch::Tensor logits = model->forward(rows, torch::ones_like(rows));  // (B, 9, V)
    const torch::Tensor loss = torch::nn::functional::cross_entropy(
        logits.narrow(1, 0, 8).reshape({-1, 61}), rows.narrow(1, 1, 8).reshape({-1}));
    StepOutput output;
    output.loss = loss;
    output.num_tokens = rows.numel();
    return output;
  };
  return loop;
}

TEST(TrainLoraResume, OnlyTheAdaptersTrainAndHaveOptimizerState) {
  const TrainConfig train = resume_train_config();
  LlamaForCausalLM model = make_model(train);
  const auto optimizer = make_adamw(*model, train);
  std::int64_t optimized = 0;
  for (const auto& group : optimizer->param_groups()) {
    for (const auto& parameter : group.params()) optimized += parameter.numel();
  }
  // r (in + out) per adapted projection and layer: q 32 -> 32, v 32 -> 16, down 48 -> 32.
  EXPECT_EQ(optimized, 2 * 4 * ((32 + 32) + (32 + 16) + (48 + 32)));
  EXPECT_EQ(trainable_parameters(*model).size(), 2u * 3u * 2u);
}

TEST(TrainLoraResume, AStoppedAndResumedRunEqualsAStraightOneBitForBit) {
  const TrainConfig train = resume_train_config();
  test::TempDir straight_dir, resumed_dir;

  LlamaForCausalLM straight = make_model(train);
  std::map<std::string, torch::Tensor> start;
  for (const auto& item : straight->named_parameters()) start[item.key()] = item.value().clone();
  straight->train();
  Loop straight_loop = make_loop(straight, straight_dir.path(), 0);
  ASSERT_TRUE(run_training_loop(*straight, train, straight_loop.options, straight_loop.step).finished);

  {
    LlamaForCausalLM first = make_model(train);
    first->train();
    Loop loop = make_loop(first, resumed_dir.path(), 3);
    const TrainingResult stopped = run_training_loop(*first, train, loop.options, loop.step);
    ASSERT_FALSE(stopped.finished);
    ASSERT_EQ(stopped.completed_steps, 3);
  }
  LlamaForCausalLM resumed = make_model(train);
  resumed->train();
  Loop loop = make_loop(resumed, resumed_dir.path(), 0);
  const TrainingResult result = run_training_loop(*resumed, train, loop.options, loop.step);
  ASSERT_TRUE(result.finished);
  EXPECT_EQ(result.resumed_from_step, 3);

  auto resumed_parameters = resumed->named_parameters();
  for (const auto& item : straight->named_parameters()) {
    EXPECT_TRUE(torch::equal(item.value(), resumed_parameters[item.key()])) << item.key();
    // The base weights stayed those of the start, the adapters moved.
    EXPECT_EQ(torch::equal(item.value(), start.at(item.key())), !is_lora_parameter_name(item.key())) << item.key();
  }
}

}  // namespace
}  // namespace selm
