// The gradient all-reduce of data-parallel training: the parameters' gradients, summed over
// the ranks, in buckets of about kGradientBucketBytes. Buckets hold parameters in reverse order,
// the order in which backward produces their gradients. During the backward pass of a step's
// last micro-batch (watch_backward), a hook on each parameter copies its final gradient (what
// earlier micro-batches accumulated plus this pass's) into its bucket, and a bucket's
// all-reduce starts as soon as the bucket is full, so Gloo reduces the last layers while
// backward still runs through the first. all_reduce() starts the buckets left, waits for all and
// writes the sums back into the gradients. Buckets start strictly in order, on every rank from
// the same parameter list, so the ranks issue the same collectives in the same order. One reducer
// serves every step of a run: its bucket buffers are allocated once.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <torch/types.h>

#include "selm/parallel/parallel_context.hpp"

namespace selm {

inline constexpr std::int64_t kGradientBucketBytes = 25LL << 20;

class GradientReducer {
 public:
  // `parameters`: the trainable parameters, in the optimiser's order.
  GradientReducer(std::vector<torch::Tensor> parameters, ParallelContext parallel, std::string stage,
                  std::int64_t bucket_bytes = kGradientBucketBytes);
  ~GradientReducer();
  GradientReducer(const GradientReducer&) = delete;
  GradientReducer& operator=(const GradientReducer&) = delete;

  // Hooks on the parameters for the next backward pass (the step's last one on this rank), and
  // their removal once it has run.
  void watch_backward();
  void stop_watching();

  // Sums every parameter's gradient over the ranks, in place. A parameter without a gradient
  // on this rank (it took no backward pass: no examples in the step) takes part with zeros.
  void all_reduce();

  std::size_t bucket_count() const { return buckets_.size(); }
  // Buckets whose all-reduce started during backward (for tests and benchmarks).
  std::size_t buckets_started_in_backward() const { return started_in_backward_; }

 private:
  struct Bucket {
    std::vector<std::size_t> parameters;  // indices, in reverse parameter order
    std::vector<std::int64_t> offsets;    // of each parameter in `flat`
    std::int64_t elements = 0;
    std::size_t waiting = 0;              // parameters whose final gradient has not arrived
    std::vector<torch::Tensor> flat;      // one tensor (the collective's argument), allocated when needed
    std::unique_ptr<PendingCollective> pending;
  };

  void start_step();  // after an all_reduce(): a new step's state, the buffers kept
  void on_gradient(std::size_t parameter, const torch::Tensor& gradient);
  void start_ready_buckets();
  void start(Bucket& bucket);
  torch::Tensor& flat_of(Bucket& bucket);

  std::vector<torch::Tensor> parameters_;
  ParallelContext parallel_;
  std::string stage_;
  std::vector<Bucket> buckets_;
  std::vector<std::size_t> bucket_of_;  // per parameter
  std::vector<std::size_t> slot_of_;    // per parameter: its place in its bucket
  std::vector<bool> arrived_;           // per parameter: final gradient copied into its bucket
  std::vector<unsigned> hooks_;         // hook handles while watching
  std::size_t next_to_start_ = 0;
  std::size_t started_in_backward_ = 0;
  bool watching_ = false;
  bool step_done_ = false;  // all_reduce() has run since the step's state was set
};

}  // namespace selm
