#include "selm/train/gradient_reducer.hpp"

#include <memory>

#include <torch/torch.h>

namespace selm {

GradientReducer::GradientReducer(std::vector<torch::Tensor> parameters, ParallelContext parallel,
                                 std::int64_t bucket_bytes)
    : parameters_(std::move(parameters)), parallel_(std::move(parallel)) {
  std::int64_t filled = 0;
  for (std::size_t index = 0; index < parameters_.size(); ++index) {
    const torch::Tensor& parameter = parameters_[index];
    const std::int64_t bytes = parameter.numel() * static_cast<std::int64_t>(parameter.element_size());
    // A bucket holds one dtype (it is one flat tensor).
    const bool same_dtype = !buckets_.empty() && parameters_[buckets_.back().front()].scalar_type() == parameter.scalar_type();
    if (buckets_.empty() || !same_dtype || filled + bytes > bucket_bytes) {
      buckets_.emplace_back();
      filled = 0;
    }
    buckets_.back().push_back(index);
    filled += bytes;
  }
}

void GradientReducer::all_reduce(const std::string& stage) {
  if (!parallel_.communicator) return;
  torch::NoGradGuard no_grad;
  for (torch::Tensor& parameter : parameters_) {
    if (!parameter.grad().defined()) parameter.mutable_grad() = torch::zeros_like(parameter);
  }
  std::vector<std::vector<torch::Tensor>> flat(buckets_.size());
  std::vector<std::unique_ptr<PendingCollective>> pending;
  pending.reserve(buckets_.size());
  for (std::size_t bucket = 0; bucket < buckets_.size(); ++bucket) {
    std::vector<torch::Tensor> pieces;
    for (const std::size_t index : buckets_[bucket]) pieces.push_back(parameters_[index].grad().reshape({-1}));
    flat[bucket].push_back(torch::cat(pieces));  // (sum of the bucket's numels)
    pending.push_back(parallel_.communicator->all_reduce_sum_async(flat[bucket], stage));
  }
  for (std::size_t bucket = 0; bucket < buckets_.size(); ++bucket) {
    pending[bucket]->wait();
    std::int64_t offset = 0;
    for (const std::size_t index : buckets_[bucket]) {
      torch::Tensor grad = parameters_[index].grad();
      const std::int64_t count = grad.numel();
      grad.copy_(flat[bucket][0].narrow(0, offset, count).view_as(grad));
      offset += count;
    }
  }
}

}  // namespace selm
