#include "selm/train/training_precision.hpp"

#include <cstdio>
#include <utility>

#include <torch/torch.h>

#include "selm/model/autocast.hpp"
#include "selm/util/error.hpp"

namespace selm {

namespace {

// bfloat16 keeps 8 significant bits: the gap between neighbours of w is at least |w| * 2^-8
// (2^-7 relative at the bottom of a binade, 2^-8 at its top), so an update below |w| * 2^-9,
// under half that gap, rounds back to w.
constexpr double kBf16LostUpdateRatio = 1.0 / 512.0;

std::string formatted_number(const char* format, double value) {
  char text[64];
  std::snprintf(text, sizeof(text), format, value);
  return text;
}

}  // namespace

bool uses_bf16_autocast(TrainPrecision precision) { return precision == TrainPrecision::bf16_mixed; }

double fraction_of_bf16_updates_lost(const std::vector<torch::Tensor>& parameters, double learning_rate) {
  torch::NoGradGuard no_grad;
  const double smallest_affected = learning_rate / kBf16LostUpdateRatio;  // |w| above this loses the update
  double lost = 0, total = 0;
  for (const auto& parameter : parameters) {
    lost += static_cast<double>((parameter.detach().abs().to(torch::kFloat64) > smallest_affected).sum().item<std::int64_t>());
    total += static_cast<double>(parameter.numel());
  }
  return total > 0 ? lost / total : 0.0;
}

std::optional<std::string> bf16_resolution_warning(const std::vector<torch::Tensor>& parameters,
                                                   double learning_rate) {
  const double lost = fraction_of_bf16_updates_lost(parameters, learning_rate);
  if (lost <= 0) return std::nullopt;
  return "train.precision bf16: at learning rate " + formatted_number("%g", learning_rate) + ", updates to the " +
         formatted_number("%.1f", 100.0 * lost) + "% of weights with |w| > " +
         formatted_number("%.3g", learning_rate / kBf16LostUpdateRatio) +
         " are below half a bfloat16 step and round away (lr < |w| * 2^-9); bf16_mixed keeps them";
}

TrainingDtypeGuard::TrainingDtypeGuard(torch::nn::Module& model, TrainPrecision precision) : model_(model) {
  const std::vector<torch::Tensor> parameters = model.parameters();
  if (parameters.empty()) return;
  const c10::ScalarType dtype = parameters.front().scalar_type();
  if (precision == TrainPrecision::bf16_mixed && dtype != torch::kFloat32) {
    throw InputError(std::string("key 'model.dtype': must be float32 with train.precision bf16_mixed (the float32 "
                                 "master weights), the model is ") +
                     c10::toString(dtype));
  }
  if (precision == TrainPrecision::bf16 && dtype != torch::kBFloat16) {
    loaded_dtype_ = dtype;
    model.to(torch::kBFloat16);
  }
}

TrainingDtypeGuard::~TrainingDtypeGuard() {
  if (loaded_dtype_) model_.to(*loaded_dtype_);
}

StepFunction with_training_precision(StepFunction step, TrainPrecision precision, c10::DeviceType device_type) {
  if (!uses_bf16_autocast(precision)) return step;
  return [step = std::move(step), device_type](const std::vector<std::int64_t>& example_indices) {
    const AutocastScope autocast(device_type, torch::kBFloat16, /*enabled=*/true);
    return step(example_indices);
  };
}

}  // namespace selm
