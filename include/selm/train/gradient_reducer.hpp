// The gradient all-reduce of data-parallel training: the parameters' gradients, summed over
// the ranks after the backward passes of an optimiser step, in buckets of about
// kGradientBucketBytes. Each bucket is flattened into one tensor and its all-reduce starts as
// soon as it is filled, so that Gloo's threads reduce one bucket while the next is copied; the
// gradients get the sums back once all have arrived. Every rank builds its buckets from the
// same parameter list, so the ranks issue the same collectives in the same order.
#pragma once

#include <cstdint>
#include <vector>

#include <torch/types.h>

#include "selm/parallel/parallel_context.hpp"

namespace selm {

inline constexpr std::int64_t kGradientBucketBytes = 25LL << 20;

class GradientReducer {
 public:
  // `parameters`: the trainable parameters, in the optimiser's order.
  GradientReducer(std::vector<torch::Tensor> parameters, ParallelContext parallel,
                  std::int64_t bucket_bytes = kGradientBucketBytes);

  // Sums every parameter's gradient over the ranks, in place. A parameter without a gradient
  // on this rank (it took no backward pass: no examples in the step) takes part with zeros.
  void all_reduce(const std::string& stage);

  std::size_t bucket_count() const { return buckets_.size(); }

 private:
  std::vector<torch::Tensor> parameters_;
  ParallelContext parallel_;
  std::vector<std::vector<std::size_t>> buckets_;  // parameter indices, in parameter order
};

}  // namespace selm
