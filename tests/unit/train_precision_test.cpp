#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include <torch/torch.h>

#include "selm/config/config.hpp"
#include "selm/model/llama.hpp"
#include "selm/train/optimizer.hpp"
#include "selm/train/training_precision.hpp"
#include "selm/util/error.hpp"

namespace selm {
namespace SELM_UNITY_ID {

// One weight vector, all entries 0.01.
struct SingleWeightImpl : torch::nn::Module {
  SingleWeightImpl() { weight = register_parameter("weight", torch::full({4}, 0.01)); }
  torch::Tensor weight;
};
TORCH_MODULE(SingleWeight);

TrainConfig small_step_config() {
  TrainConfig config;
  config.learning_rate = 5e-7;
  config.weight_decay = 0.0;
  return config;
}

// 100 AdamW steps at lr 5e-7 with the gradient 1: each moves the weight by lr * m^ / (sqrt(v^) + eps)
// = 5e-7 * 1 / (1 + 1e-8), 5e-5 in all, in exact arithmetic.
torch::Tensor weight_after_small_steps(SingleWeight& model, TrainPrecision precision) {
  const TrainConfig config = small_step_config();
  const TrainingDtypeGuard training_dtype(*model, precision);
  auto optimizer = make_adamw(*model, config);
  for (int step = 0; step < 100; ++step) {
    model->weight.mutable_grad() = torch::ones_like(model->weight);
    optimizer->step();
  }
  const auto& state = static_cast<const torch::optim::AdamWParamState&>(
      *optimizer->state().begin()->second);
  EXPECT_EQ(state.exp_avg().scalar_type(), model->weight.scalar_type());  // the moments follow the weights
  return model->weight.detach().clone().to(torch::kFloat64);
}

TEST(TrainPrecision, SmallUpdatesAccumulateInFloat32MasterWeightsButRoundAwayInBfloat16) {
  SingleWeight mixed;
  const torch::Tensor master = weight_after_small_steps(mixed, TrainPrecision::bf16_mixed);
  EXPECT_EQ(mixed->weight.scalar_type(), torch::kFloat32);
  const double expected_move = 100 * 5e-7 / (1 + 1e-8);
  for (int i = 0; i < 4; ++i) {
    // float32 near 0.01 has a step of 9.3e-10; 100 roundings stay under 1e-7.
    EXPECT_NEAR(0.01 - master[i].item<double>(), expected_move, 1e-7);
  }

  SingleWeight pure;
  const double bf16_start = torch::tensor(0.01).to(torch::kBFloat16).to(torch::kFloat64).item<double>();
  {
    const TrainingDtypeGuard outer(*pure, TrainPrecision::bf16);  // keeps it bfloat16 to look at
    const torch::Tensor after = weight_after_small_steps(pure, TrainPrecision::bf16);
    EXPECT_EQ(pure->weight.scalar_type(), torch::kBFloat16);
    for (int i = 0; i < 4; ++i) EXPECT_EQ(after[i].item<double>(), bf16_start);  // 5e-7 < 0.01 * 2^-9
  }
  // The guard's end puts the loaded dtype back, with the bfloat16 values.
  EXPECT_EQ(pure->weight.scalar_type(), torch::kFloat32);
  EXPECT_EQ(pure->weight[0].item<double>(), bf16_start);
}

TEST(TrainPrecision, Bf16MixedRefusesAModelThatIsNotFloat32) {
  SingleWeight model;
  model->to(torch::kBFloat16);
  try {
    const TrainingDtypeGuard guard(*model, TrainPrecision::bf16_mixed);
    FAIL() << "expected an InputError";
  } catch (const InputError& error) {
    EXPECT_NE(std::string(error.what()).find("key 'model.dtype'"), std::string::npos) << error.what();
  }
}

TEST(TrainPrecision, ConfigRefusesBf16MixedWithoutFloat32Weights) {
  try {
    load_config({}, {"train.precision=bf16_mixed", "model.dtype=bfloat16"});
    FAIL() << "expected an InputError";
  } catch (const InputError& error) {
    EXPECT_NE(std::string(error.what()).find("key 'model.dtype'"), std::string::npos) << error.what();
  }
  EXPECT_EQ(load_config({}, {"train.precision=bf16"}).train.precision, TrainPrecision::bf16);
  EXPECT_EQ(load_config({}, {}).train.precision, TrainPrecision::fp32);
  EXPECT_THROW(load_config({}, {"train.precision=fp16"}), InputError);
}

LlamaForCausalLM small_llama() {
  LlamaConfig config;
  config.vocab_size = 50;
  config.hidden_size = 32;
  config.intermediate_size = 48;
  config.num_hidden_layers = 2;
  config.num_attention_heads = 4;
  config.num_key_value_heads = 2;
  config.initializer_range = 0.02;
  torch::manual_seed(8);
  return LlamaForCausalLM(config);
}

// The same fraction, element by element.
double lost_fraction_by_hand(const std::vector<torch::Tensor>& parameters, double learning_rate) {
  std::int64_t lost = 0, total = 0;
  for (const auto& parameter : parameters) {
    const auto values = parameter.detach().reshape({-1}).to(torch::kFloat64).contiguous();
    const double* data = values.data_ptr<double>();
    for (std::int64_t i = 0; i < values.numel(); ++i) {
      if (learning_rate < std::abs(data[i]) / 512.0) ++lost;
      ++total;
    }
  }
  return static_cast<double>(lost) / static_cast<double>(total);
}

TEST(TrainPrecision, ResolutionWarningAtASmallLearningRateOnly) {
  auto model = small_llama();
  const std::vector<torch::Tensor> parameters = model->parameters();
  const double at_small = fraction_of_bf16_updates_lost(parameters, 5e-7);
  EXPECT_DOUBLE_EQ(at_small, lost_fraction_by_hand(parameters, 5e-7));
  // Weights of std 0.02 lie mostly above 5e-7 * 512 = 2.56e-4; the norm weights (1) all do.
  EXPECT_GT(at_small, 0.9);
  const auto warning = bf16_resolution_warning(parameters, 5e-7);
  ASSERT_TRUE(warning.has_value());
  EXPECT_NE(warning->find("learning rate 5e-07"), std::string::npos) << *warning;
  // At 1e-2 only weights above 5.12 would lose updates: there are none.
  EXPECT_EQ(fraction_of_bf16_updates_lost(parameters, 1e-2), 0.0);
  EXPECT_FALSE(bf16_resolution_warning(parameters, 1e-2).has_value());
}

TEST(TrainPrecision, MixedStepsComputeInBfloat16WithFloat32Gradients) {
  torch::manual_seed(2);
  torch::nn::Linear linear(torch::nn::LinearOptions(6, 3).bias(false));
  const auto x = torch::randn({5, 6});
  torch::Tensor output;
  const StepFunction step = [&](const std::vector<std::int64_t>&) {
    output = linear(x);
    return StepOutput{output.to(torch::kFloat32).square().mean(), {}, 0};
  };
  const StepOutput result = with_training_precision(step, TrainPrecision::bf16_mixed, c10::DeviceType::CPU)({0});
  EXPECT_EQ(output.scalar_type(), torch::kBFloat16);
  result.loss.backward();  // outside the autocast, as the training loop runs it
  EXPECT_EQ(linear->weight.grad().scalar_type(), torch::kFloat32);
  // fp32 leaves the step as it is.
  with_training_precision(step, TrainPrecision::fp32, c10::DeviceType::CPU)({0});
  EXPECT_EQ(output.scalar_type(), torch::kFloat32);
}

}  // namespace
}  // namespace selm
