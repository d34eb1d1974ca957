// A toy regression problem for testing the training loop without a language model: a small MLP
// (by default 8 -> 16 -> 1, with dropout so that the RNG state matters, 161 parameters) on
// synthetic data. Wider variants exercise multi-threaded kernels.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>

#include <torch/torch.h>

#include "selm/train/training_loop.hpp"

namespace selm::test {

struct ToyRegressionImpl : torch::nn::Module {
  explicit ToyRegressionImpl(double dropout_probability = 0.1, std::int64_t input_width = 8,
                             std::int64_t hidden_width = 16);
  // x: (B, input_width) -> (B, 1)
  torch::Tensor forward(const torch::Tensor& x);

  torch::nn::Linear hidden{nullptr};
  torch::nn::Dropout dropout{nullptr};
  torch::nn::Linear output{nullptr};
};
TORCH_MODULE(ToyRegression);

struct ToyRegressionData {
  torch::Tensor inputs;   // (N, input_width)
  torch::Tensor targets;  // (N, 1)
};

// N examples of a fixed noisy non-linear function, from `seed` (own generator: the global one
// is left alone). input_width >= 5.
ToyRegressionData toy_regression_data(std::int64_t num_examples, std::uint64_t seed, std::int64_t input_width = 8);

// Mean squared error over the micro-batch; metrics "loss" and "mean_abs_error"; input_width
// "tokens" per example, so that tokens/s is non-zero.
StepFunction toy_step_function(ToyRegression model, ToyRegressionData data);

// Loop options writing into `output_dir`, saving and loading the model with
// save_module_weights / load_module_weights; progress display off.
TrainingLoopOptions toy_loop_options(ToyRegression model, const std::filesystem::path& output_dir,
                                     std::int64_t num_examples);

// Parameters by name, cloned.
std::map<std::string, torch::Tensor> parameter_snapshot(torch::nn::Module& module);

}  // namespace selm::test
