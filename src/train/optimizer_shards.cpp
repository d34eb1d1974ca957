#include "selm/train/optimizer_shards.hpp"

#include <torch/torch.h>

#include "selm/train/optimizer.hpp"

namespace selm {

OptimizerShards::OptimizerShards(const std::vector<torch::Tensor>& parameters, int world_size)
    : elements_(static_cast<std::size_t>(world_size), 0) {
  std::int64_t total = 0;
  for (const auto& parameter : parameters) total += parameter.numel();
  // Parameter k goes to the rank whose equal share of the elements holds its first element.
  std::int64_t before = 0;
  for (const auto& parameter : parameters) {
    const int rank = total > 0 ? static_cast<int>(std::min<std::int64_t>(world_size - 1, before * world_size / total)) : 0;
    owners_.push_back(rank);
    elements_[static_cast<std::size_t>(rank)] += parameter.numel();
    before += parameter.numel();
  }
}

std::int64_t OptimizerShards::elements_of(int rank) const { return elements_.at(static_cast<std::size_t>(rank)); }

void OptimizerShards::broadcast_parameters(const std::vector<torch::Tensor>& parameters,
                                           const ParallelContext& parallel) const {
  if (!parallel.communicator) return;
  torch::NoGradGuard no_grad;
  for (std::size_t k = 0; k < parameters.size(); ++k) {
    std::vector<torch::Tensor> parameter{parameters[k].detach()};  // the parameter's own storage
    parallel.communicator->broadcast(parameter, owners_[k], "training: parameters from their optimiser shards");
  }
}

std::unique_ptr<torch::optim::AdamW> make_rank_adamw(torch::nn::Module& module, const TrainConfig& config,
                                                     const OptimizerShards& shards, int rank) {
  return make_adamw(module, config, [&](std::size_t index) { return shards.owner(index) == rank; });
}

}  // namespace selm
