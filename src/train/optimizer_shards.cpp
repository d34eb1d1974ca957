#include "selm/train/optimizer_shards.hpp"

#include <torch/torch.h>

#include "selm/train/gradient_reducer.hpp"

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
  std::size_t begin = 0;
  while (begin < parameters.size()) {
    // A bucket: consecutive parameters of one owner and one dtype, up to the bucket size.
    const int owner = owners_[begin];
    std::size_t end = begin;
    std::int64_t bytes = 0;
    while (end < parameters.size() && owners_[end] == owner &&
           parameters[end].scalar_type() == parameters[begin].scalar_type() &&
           (end == begin || bytes + parameters[end].numel() * static_cast<std::int64_t>(parameters[end].element_size()) <=
                                kGradientBucketBytes)) {
      bytes += parameters[end].numel() * static_cast<std::int64_t>(parameters[end].element_size());
      ++end;
    }
    std::vector<torch::Tensor> pieces;
    for (std::size_t k = begin; k < end; ++k) pieces.push_back(parameters[k].detach().reshape({-1}));
    std::vector<torch::Tensor> flat{torch::cat(pieces)};
    parallel.communicator->broadcast(flat, owner, "training: parameters from their optimiser shards");
    if (parallel.rank != owner) {
      std::int64_t offset = 0;
      for (std::size_t k = begin; k < end; ++k) {
        const std::int64_t count = parameters[k].numel();
        parameters[k].detach().copy_(flat[0].narrow(0, offset, count).view_as(parameters[k]));
        offset += count;
      }
    }
    begin = end;
  }
}

}  // namespace selm
