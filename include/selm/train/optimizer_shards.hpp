// ZeRO stage 1 (train.shard_optimizer_state): the trainable parameters are dealt out to the
// ranks in contiguous runs of about equal size. Each rank's AdamW holds the moments of its run
// only (make_adamw's `keep`). After the gradient all-reduce every rank has the whole gradient
// and the same clipping factor; each updates its own run, then every run is broadcast from its
// owner. AdamW's update is elementwise, so the weights are those of an unsharded optimiser, and
// each rank holds 1/world_size of the optimiser state.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include <memory>

#include <torch/nn/module.h>
#include <torch/optim/adamw.h>
#include <torch/types.h>

#include "selm/parallel/parallel_context.hpp"
#include "selm/train/train_config.hpp"

namespace selm {

class OptimizerShards {
 public:
  // `parameters`: the trainable parameters in the optimiser's order.
  OptimizerShards(const std::vector<torch::Tensor>& parameters, int world_size);

  int owner(std::size_t parameter_index) const { return owners_.at(parameter_index); }
  // Elements of the parameters `rank` owns.
  std::int64_t elements_of(int rank) const;

  // Every parameter from its owner, to every rank, in place (one broadcast per parameter).
  void broadcast_parameters(const std::vector<torch::Tensor>& parameters, const ParallelContext& parallel) const;

 private:
  std::vector<int> owners_;
  std::vector<std::int64_t> elements_;  // per rank
};

// make_adamw over the parameters `rank` owns.
std::unique_ptr<torch::optim::AdamW> make_rank_adamw(torch::nn::Module& module, const TrainConfig& config,
                                                     const OptimizerShards& shards, int rank);

}  // namespace selm
