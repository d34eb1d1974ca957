#include <gtest/gtest.h>

#include <torch/torch.h>

#include "selm/train/optimizer.hpp"
#include "selm/util/error.hpp"
#include "support/test_support.hpp"
#include "support/train_toy.hpp"

namespace selm {
namespace SELM_UNITY_ID {

TrainConfig adamw_config() {
  TrainConfig config;
  config.learning_rate = 0.05;
  config.weight_decay = 0.1;
  config.adam_beta1 = 0.8;
  config.adam_beta2 = 0.95;
  config.adam_epsilon = 1e-6;
  return config;
}

TEST(TrainLoopOptimizer, GroupsSplitMatricesFromVectors) {
  torch::manual_seed(1);
  test::ToyRegression model;
  model->output->bias.set_requires_grad(false);  // frozen parameters are left out
  auto optimizer = make_adamw(*model, adamw_config());
  ASSERT_EQ(optimizer->param_groups().size(), 2u);
  const auto& decay = optimizer->param_groups()[kDecayGroup].params();
  const auto& no_decay = optimizer->param_groups()[kNoDecayGroup].params();
  ASSERT_EQ(decay.size(), 2u);
  EXPECT_TRUE(decay[0].is_same(model->hidden->weight));
  EXPECT_TRUE(decay[1].is_same(model->output->weight));
  ASSERT_EQ(no_decay.size(), 1u);
  EXPECT_TRUE(no_decay[0].is_same(model->hidden->bias));
  const auto& decay_options = static_cast<const torch::optim::AdamWOptions&>(optimizer->param_groups()[0].options());
  const auto& plain_options = static_cast<const torch::optim::AdamWOptions&>(optimizer->param_groups()[1].options());
  EXPECT_EQ(decay_options.weight_decay(), 0.1);
  EXPECT_EQ(plain_options.weight_decay(), 0.0);
  EXPECT_EQ(std::get<0>(decay_options.betas()), 0.8);
  EXPECT_EQ(std::get<1>(plain_options.betas()), 0.95);
  EXPECT_EQ(plain_options.eps(), 1e-6);
  EXPECT_EQ(learning_rate_of(*optimizer, kDecayGroup), 0.05);
}

TEST(TrainLoopOptimizer, SetLearningRateChangesEveryGroup) {
  test::ToyRegression model;
  auto optimizer = make_adamw(*model, adamw_config());
  set_learning_rate(*optimizer, 1.25e-4);
  EXPECT_EQ(learning_rate_of(*optimizer, kDecayGroup), 1.25e-4);
  EXPECT_EQ(learning_rate_of(*optimizer, kNoDecayGroup), 1.25e-4);
}

TEST(TrainLoopOptimizer, WeightDecayAppliesOnlyToMatrices) {
  torch::manual_seed(2);
  test::ToyRegression model;
  auto optimizer = make_adamw(*model, adamw_config());
  const auto before = test::parameter_snapshot(*model);
  // Zero gradients make Adam's update exactly zero, leaving only the decoupled decay.
  for (auto& parameter : model->parameters()) parameter.mutable_grad() = torch::zeros_like(parameter);
  optimizer->step();
  const auto after = test::parameter_snapshot(*model);
  const float factor = static_cast<float>(1.0 - 0.05 * 0.1);
  for (const char* matrix : {"hidden.weight", "output.weight"}) {
    EXPECT_TRUE(torch::allclose(after.at(matrix), before.at(matrix) * factor, 1e-7, 0)) << matrix;
    EXPECT_FALSE(torch::equal(after.at(matrix), before.at(matrix))) << matrix;
  }
  for (const char* vector : {"hidden.bias", "output.bias"}) {
    EXPECT_TRUE(torch::equal(after.at(vector), before.at(vector))) << vector;
  }
}

TEST(TrainLoopOptimizer, StateRoundTripsExactly) {
  test::TempDir dir;
  torch::manual_seed(3);
  test::ToyRegression model;
  const auto data = test::toy_regression_data(8, 1);
  auto optimizer = make_adamw(*model, adamw_config());
  for (int step = 0; step < 3; ++step) {
    optimizer->zero_grad();
    (model->forward(data.inputs) - data.targets).pow(2).mean().backward();
    optimizer->step();
  }
  save_optimizer_state(*optimizer, dir / "optimizer.pt");

  auto restored = make_adamw(*model, adamw_config());
  load_optimizer_state(*restored, dir / "optimizer.pt");
  for (std::size_t g = 0; g < 2; ++g) {
    for (const auto& parameter : optimizer->param_groups()[g].params()) {
      const std::string key = c10::guts::to_string(parameter.unsafeGetTensorImpl());
      ASSERT_TRUE(optimizer->state().count(key));
      ASSERT_TRUE(restored->state().count(key));
      const auto& original = static_cast<const torch::optim::AdamWParamState&>(*optimizer->state().at(key));
      const auto& copy = static_cast<const torch::optim::AdamWParamState&>(*restored->state().at(key));
      EXPECT_EQ(copy.step(), 3);
      EXPECT_TRUE(torch::equal(copy.exp_avg(), original.exp_avg()));
      EXPECT_TRUE(torch::equal(copy.exp_avg_sq(), original.exp_avg_sq()));
    }
  }
}

TEST(TrainLoopOptimizer, MismatchedOrMissingStateIsAnInputErrorNamingTheFile) {
  test::TempDir dir;
  test::ToyRegression model;
  auto optimizer = make_adamw(*model, adamw_config());
  save_optimizer_state(*optimizer, dir / "optimizer.pt");

  // A model with another hidden width: same parameter count, different shapes.
  struct WiderImpl : torch::nn::Module {
    WiderImpl() {
      register_module("hidden", torch::nn::Linear(8, 17));
      register_module("output", torch::nn::Linear(17, 1));
    }
  };
  WiderImpl wider;
  auto other = make_adamw(wider, adamw_config());
  try {
    load_optimizer_state(*other, dir / "optimizer.pt");
    FAIL() << "expected an InputError";
  } catch (const InputError& error) {
    EXPECT_NE(std::string(error.what()).find((dir / "optimizer.pt").string()), std::string::npos) << error.what();
    EXPECT_NE(std::string(error.what()).find("[16, 8]"), std::string::npos) << error.what();
  }
  EXPECT_THROW(load_optimizer_state(*optimizer, dir / "absent.pt"), InputError);
  test::write_text(dir / "garbage.pt", "not a torch archive");
  try {
    load_optimizer_state(*optimizer, dir / "garbage.pt");
    FAIL() << "expected an InputError";
  } catch (const InputError& error) {
    EXPECT_NE(std::string(error.what()).find("garbage.pt"), std::string::npos) << error.what();
  }
}

}  // namespace
}  // namespace selm
