#include "selm/train/gradient_reducer.hpp"

#include <algorithm>

#include <torch/torch.h>

namespace selm {

GradientReducer::GradientReducer(std::vector<torch::Tensor> parameters, ParallelContext parallel, std::string stage,
                                 std::int64_t bucket_bytes)
    : parameters_(std::move(parameters)),
      parallel_(std::move(parallel)),
      stage_(std::move(stage)),
      bucket_of_(parameters_.size()),
      slot_of_(parameters_.size()),
      arrived_(parameters_.size(), false) {
  std::int64_t filled = 0;
  for (std::size_t k = parameters_.size(); k-- > 0;) {
    const torch::Tensor& parameter = parameters_[k];
    const std::int64_t bytes = parameter.numel() * static_cast<std::int64_t>(parameter.element_size());
    // A bucket holds one dtype (it is one flat tensor).
    const bool same_dtype =
        !buckets_.empty() && parameters_[buckets_.back().parameters.front()].scalar_type() == parameter.scalar_type();
    if (buckets_.empty() || !same_dtype || filled + bytes > bucket_bytes) {
      buckets_.emplace_back();
      filled = 0;
    }
    Bucket& bucket = buckets_.back();
    bucket_of_[k] = buckets_.size() - 1;
    slot_of_[k] = bucket.parameters.size();
    bucket.parameters.push_back(k);
    bucket.offsets.push_back(bucket.elements);
    bucket.elements += parameter.numel();
    filled += bytes;
  }
  for (Bucket& bucket : buckets_) bucket.waiting = bucket.parameters.size();
}

GradientReducer::~GradientReducer() {
  stop_watching();
  for (Bucket& bucket : buckets_) {
    if (bucket.pending) {
      try {
        bucket.pending->wait();
      } catch (...) {  // an unfinished step that is being abandoned: its error was reported
      }
    }
  }
}

torch::Tensor& GradientReducer::flat_of(Bucket& bucket) {
  if (bucket.flat.empty()) {
    bucket.flat.push_back(torch::empty({bucket.elements}, parameters_[bucket.parameters.front()].options()));
  }
  return bucket.flat.front();
}

void GradientReducer::start_step() {
  if (!step_done_) return;
  std::fill(arrived_.begin(), arrived_.end(), false);
  for (Bucket& bucket : buckets_) bucket.waiting = bucket.parameters.size();
  next_to_start_ = 0;
  started_in_backward_ = 0;
  step_done_ = false;
}

void GradientReducer::watch_backward() {
  if (!parallel_.communicator || watching_) return;
  start_step();
  watching_ = true;
  for (std::size_t k = 0; k < parameters_.size(); ++k) {
    hooks_.push_back(parameters_[k].register_hook([this, k](const torch::Tensor& gradient) { on_gradient(k, gradient); }));
  }
}

void GradientReducer::stop_watching() {
  if (!watching_) return;
  for (std::size_t k = 0; k < hooks_.size(); ++k) parameters_[k].remove_hook(hooks_[k]);
  hooks_.clear();
  watching_ = false;
}

// Runs inside backward, before the engine adds `gradient` to the parameter's .grad: the final
// gradient of the step is what .grad holds from earlier micro-batches plus `gradient`.
void GradientReducer::on_gradient(std::size_t parameter, const torch::Tensor& gradient) {
  if (arrived_[parameter]) return;
  torch::NoGradGuard no_grad;
  Bucket& bucket = buckets_[bucket_of_[parameter]];
  const std::int64_t count = parameters_[parameter].numel();
  torch::Tensor slot = flat_of(bucket).narrow(0, bucket.offsets[slot_of_[parameter]], count);
  const torch::Tensor& earlier = parameters_[parameter].grad();
  if (earlier.defined()) {
    torch::add_out(slot, earlier.reshape({-1}), gradient.reshape({-1}));
  } else {
    slot.copy_(gradient.reshape({-1}));
  }
  arrived_[parameter] = true;
  --bucket.waiting;
  const std::size_t before = next_to_start_;
  start_ready_buckets();
  started_in_backward_ += next_to_start_ - before;
}

void GradientReducer::start_ready_buckets() {
  while (next_to_start_ < buckets_.size() && buckets_[next_to_start_].waiting == 0) {
    start(buckets_[next_to_start_]);
    ++next_to_start_;
  }
}

void GradientReducer::start(Bucket& bucket) {
  bucket.pending = parallel_.communicator->all_reduce_sum_async(bucket.flat, stage_);
}

void GradientReducer::all_reduce() {
  if (!parallel_.communicator) return;
  stop_watching();
  start_step();
  torch::NoGradGuard no_grad;
  // The gradients that no hook saw: .grad as it is (zeros for a parameter without one).
  for (std::size_t k = 0; k < parameters_.size(); ++k) {
    if (arrived_[k]) continue;
    Bucket& bucket = buckets_[bucket_of_[k]];
    torch::Tensor slot = flat_of(bucket).narrow(0, bucket.offsets[slot_of_[k]], parameters_[k].numel());
    const torch::Tensor& grad = parameters_[k].grad();
    if (grad.defined()) slot.copy_(grad.reshape({-1}));
    else slot.zero_();
    arrived_[k] = true;
    --bucket.waiting;
  }
  start_ready_buckets();
  for (Bucket& bucket : buckets_) {
    bucket.pending->wait();
    bucket.pending.reset();
    for (std::size_t slot = 0; slot < bucket.parameters.size(); ++slot) {
      torch::Tensor& parameter = parameters_[bucket.parameters[slot]];
      const torch::Tensor sums = bucket.flat.front().narrow(0, bucket.offsets[slot], parameter.numel()).view_as(parameter);
      if (parameter.grad().defined()) parameter.mutable_grad().copy_(sums);
      else parameter.mutable_grad() = sums.clone();
    }
  }
  step_done_ = true;
}

}  // namespace selm
