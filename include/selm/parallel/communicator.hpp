// The collectives of a data-parallel job, over torch.distributed's c10d process group (Gloo on
// CPU; NCCL on CUDA where the LibTorch build has it).
//
// Every collective names the stage that calls it: when a peer dies or a collective passes
// run.collective_timeout_seconds, the CollectiveError says which rank saw it, in which stage,
// and what c10d reported, so that no rank hangs and the user knows where the job broke.
// Collectives are matched by the order in which the ranks issue them, as in c10d: every rank
// must issue the same ones in the same order.
//
// This header stays free of LibTorch's (tensors are only declared), so that torch-free sources
// such as the judge file can meet at a barrier.
#pragma once

#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace at {
class Tensor;
}

namespace selm {

struct LaunchEnvironment;

// A collective that failed: a peer died, or it passed the collective timeout.
class CollectiveError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A collective started with an *_async call; wait() blocks until it completes (or throws
// CollectiveError). Destroying one that was not waited for waits for it.
class PendingCollective {
 public:
  virtual ~PendingCollective() = default;
  virtual void wait() = 0;
};

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int world_size() const = 0;
  virtual std::string backend() const = 0;  // "gloo" or "nccl"

  // Returns once every rank has called it.
  virtual void barrier(const std::string& stage) = 0;
  // In place: every tensor becomes the elementwise sum over the ranks (same shapes and dtypes
  // on every rank). The tensors must be contiguous.
  virtual void all_reduce_sum(std::vector<at::Tensor>& tensors, const std::string& stage) = 0;
  virtual std::unique_ptr<PendingCollective> all_reduce_sum_async(std::vector<at::Tensor>& tensors,
                                                                  const std::string& stage) = 0;
  // In place: every rank gets root's values.
  virtual void broadcast(std::vector<at::Tensor>& tensors, int root, const std::string& stage) = 0;
  // `output` (world_size * n elements) gets rank r's `input` (n elements) at [r*n, (r+1)*n).
  virtual void all_gather(at::Tensor& output, at::Tensor& input, const std::string& stage) = 0;
  // `output` (n elements) gets the sum over the ranks of their `input` (world_size * n elements)
  // at [rank*n, (rank+1)*n).
  virtual void reduce_scatter_sum(at::Tensor& output, at::Tensor& input, const std::string& stage) = 0;

  // Torch-free conveniences (small CPU tensors underneath).
  std::vector<double> all_reduce_sum(std::vector<double> values, const std::string& stage);
  std::string broadcast_string(const std::string& value, int root, const std::string& stage);
  // Every rank's `value`, in rank order.
  std::vector<std::string> all_gather_strings(const std::string& value, const std::string& stage);
};

// The process group of a launched job: a TCPStore at MASTER_ADDR:MASTER_PORT (rank 0 serves it),
// a Gloo group (or NCCL when `backend` is "nccl"), every collective bounded by `timeout`.
// Blocks until every rank has joined, or throws CollectiveError after `timeout`.
std::shared_ptr<Communicator> connect_process_group(const LaunchEnvironment& environment, const std::string& backend,
                                                    std::chrono::milliseconds timeout);

// `world_size` Gloo communicators of one process over an in-memory store, one per thread of a
// test or a benchmark; created together because each waits for the others.
std::vector<std::shared_ptr<Communicator>> local_gloo_group(int world_size, std::chrono::milliseconds timeout);

}  // namespace selm
