#include "selm/model/projection.hpp"

#include <cmath>

namespace selm {

namespace {

// One row: a decode step of one sequence.
bool is_single_projection_row(const torch::Tensor& x, std::int64_t in_features) { return x.numel() == in_features; }

// x: (..., in) -> (..., out) through weight (out, in).
torch::Tensor project_through(const torch::Tensor& weight, const torch::Tensor& x) {
  // One row as a matrix-vector product: linear() would run it as a matrix product with one
  // row, which BLAS does about 3x slower, and decoding one sequence is bound by how fast the
  // weights stream through.
  if (is_single_projection_row(x, weight.size(1))) {
    auto sizes = x.sizes().vec();
    sizes.back() = weight.size(0);
    return torch::mv(weight, x.reshape({weight.size(1)})).view(sizes);
  }
  // The function torch::nn::Linear calls, so that the kernels, and the results, are the same.
  return torch::nn::functional::linear(x, weight);
}

}  // namespace

ProjectionImpl::ProjectionImpl(std::int64_t in_features, std::int64_t out_features, const LoraAdapterSpec* adapter) {
  weight = register_parameter("weight", torch::empty({out_features, in_features}));
  torch::nn::init::kaiming_uniform_(weight, std::sqrt(5.0));
  if (adapter == nullptr) return;
  // Submodules named as PEFT's lora_A / lora_B Linear layers, so the parameters are
  // "lora_A.weight" and "lora_B.weight".
  auto factor_a = register_module("lora_A", std::make_shared<torch::nn::Module>());
  auto factor_b = register_module("lora_B", std::make_shared<torch::nn::Module>());
  lora_A_weight = factor_a->register_parameter("weight", torch::zeros({adapter->rank, in_features}));
  lora_B_weight = factor_b->register_parameter("weight", torch::zeros({out_features, adapter->rank}));
  adapter_scaling_ = adapter->scaling();
  adapter_dropout_ = adapter->dropout;
}

torch::Tensor ProjectionImpl::forward(const torch::Tensor& x) {
  torch::Tensor base = project_through(weight, x);
  if (!adapter_enabled()) return base;
  const torch::Tensor adapter_input =
      adapter_dropout_ > 0.0 && is_training() ? torch::dropout(x, adapter_dropout_, /*train=*/true) : x;
  return base + project_through(lora_B_weight, project_through(lora_A_weight, adapter_input)) * adapter_scaling_;
}

void ProjectionImpl::reset_adapter(at::Generator& generator) {
  if (!has_adapter()) return;
  torch::NoGradGuard no_grad;
  const double bound = 1.0 / std::sqrt(static_cast<double>(in_features()));
  const torch::Tensor drawn = torch::empty(lora_A_weight.sizes(), torch::kFloat32).uniform_(-bound, bound, generator);
  lora_A_weight.copy_(drawn);
  lora_B_weight.zero_();
}

torch::Tensor ProjectionImpl::merged_weight() const {
  torch::NoGradGuard no_grad;
  if (!adapter_enabled()) return weight.detach().clone();
  return weight.detach() + torch::mm(lora_B_weight.detach(), lora_A_weight.detach()) * adapter_scaling_;
}

}  // namespace selm
