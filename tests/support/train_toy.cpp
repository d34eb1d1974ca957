#include "support/train_toy.hpp"

#include <ATen/CPUGeneratorImpl.h>

#include "selm/model/hf_model_dir.hpp"

namespace selm::test {

ToyRegressionImpl::ToyRegressionImpl(double dropout_probability, std::int64_t input_width, std::int64_t hidden_width) {
  hidden = register_module("hidden", torch::nn::Linear(input_width, hidden_width));
  dropout = register_module("dropout", torch::nn::Dropout(dropout_probability));
  output = register_module("output", torch::nn::Linear(hidden_width, 1));
}

torch::Tensor ToyRegressionImpl::forward(const torch::Tensor& x) {
  return output->forward(dropout->forward(torch::tanh(hidden->forward(x))));
}

ToyRegressionData toy_regression_data(std::int64_t num_examples, std::uint64_t seed, std::int64_t input_width) {
  auto generator = at::detail::createCPUGenerator(seed);
  ToyRegressionData data;
  data.inputs = at::randn({num_examples, input_width}, generator, torch::kFloat32);
  const torch::Tensor noise = at::randn({num_examples, 1}, generator, torch::kFloat32);
  data.targets = torch::sin(data.inputs.narrow(1, 0, 4).sum(1, true)) + 0.5 * data.inputs.narrow(1, 4, 1) + 0.1 * noise;
  return data;
}

StepFunction toy_step_function(ToyRegression model, ToyRegressionData data) {
  return [model, data](const std::vector<std::int64_t>& example_indices) mutable {
    const torch::Tensor index = torch::tensor(example_indices, torch::kInt64);
    const torch::Tensor prediction = model->forward(data.inputs.index_select(0, index));  // (B, 1)
    const torch::Tensor error = prediction - data.targets.index_select(0, index);
    StepOutput output;
    output.loss = error.pow(2).mean();
    output.metrics["mean_abs_error"] = error.detach().abs().mean().item<double>();
    output.num_tokens = data.inputs.size(1) * static_cast<std::int64_t>(example_indices.size());
    return output;
  };
}

TrainingLoopOptions toy_loop_options(ToyRegression model, const std::filesystem::path& output_dir,
                                     std::int64_t num_examples) {
  TrainingLoopOptions options;
  options.output_dir = output_dir;
  options.num_examples = num_examples;
  options.config_yaml = "toy: true\n";
  options.save_model = [model](const std::filesystem::path& dir) mutable { save_module_weights(*model, dir); };
  options.load_model = [model](const std::filesystem::path& dir) mutable { load_module_weights(*model, dir); };
  options.show_progress = false;
  return options;
}

std::map<std::string, torch::Tensor> parameter_snapshot(torch::nn::Module& module) {
  std::map<std::string, torch::Tensor> snapshot;
  for (const auto& named : module.named_parameters()) snapshot[named.key()] = named.value().detach().clone();
  return snapshot;
}

}  // namespace selm::test
