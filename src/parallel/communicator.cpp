// The c10d process groups behind Communicator. This file alone sees c10d's headers: it is
// compiled with USE_C10D_GLOO (and USE_C10D_NCCL for a CUDA build with SELM_WITH_NCCL), which
// guard them.
#include "selm/parallel/communicator.hpp"

#include <cstring>
#include <thread>

#include <torch/torch.h>
#include <torch/csrc/distributed/c10d/HashStore.hpp>
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#ifdef SELM_WITH_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#include "selm/parallel/launch_environment.hpp"
#include "selm/util/error.hpp"

namespace selm {

namespace {

std::string error_text(const std::exception& error) {
  if (const auto* c10_error = dynamic_cast<const c10::Error*>(&error)) return c10_error->what_without_backtrace();
  return error.what();
}

// Runs a collective, turning whatever c10d throws into a CollectiveError naming rank and stage.
template <class Body>
auto guarded(int rank, int world_size, const std::string& stage, const char* what, Body&& body) {
  try {
    return body();
  } catch (const std::exception& error) {
    throw CollectiveError("rank " + std::to_string(rank) + "/" + std::to_string(world_size) + ", " + stage + ": " +
                          what + " failed (a peer process died or the collective passed "
                          "run.collective_timeout_seconds): " + error_text(error));
  }
}

class PendingWork final : public PendingCollective {
 public:
  PendingWork(c10::intrusive_ptr<c10d::Work> work, int rank, int world_size, std::string stage)
      : work_(std::move(work)), rank_(rank), world_size_(world_size), stage_(std::move(stage)) {}
  ~PendingWork() override {
    if (!work_) return;
    try {
      work_->wait();
    } catch (...) {  // the error was reported by wait() or is reported by the next collective
    }
  }
  void wait() override {
    auto work = std::move(work_);
    work_.reset();
    if (work) guarded(rank_, world_size_, stage_, "all-reduce", [&] { return work->wait(); });
  }

 private:
  c10::intrusive_ptr<c10d::Work> work_;
  int rank_;
  int world_size_;
  std::string stage_;
};

// Works the same for c10d's ProcessGroupGloo and ProcessGroupNCCL, which are ProcessGroups in
// LibTorch 1.13 and Backends in 2.x with the same collective methods.
template <class Group>
class GroupCommunicator final : public Communicator {
 public:
  GroupCommunicator(c10::intrusive_ptr<Group> group, int rank, int world_size, std::string backend)
      : group_(std::move(group)), rank_(rank), world_size_(world_size), backend_(std::move(backend)) {}

  int rank() const override { return rank_; }
  int world_size() const override { return world_size_; }
  std::string backend() const override { return backend_; }

  void barrier(const std::string& stage) override {
    guarded(rank_, world_size_, stage, "barrier", [&] { return group_->barrier()->wait(); });
  }

  void all_reduce_sum(std::vector<at::Tensor>& tensors, const std::string& stage) override {
    if (tensors.empty()) return;
    guarded(rank_, world_size_, stage, "all-reduce", [&] { return group_->allreduce(tensors)->wait(); });
  }

  std::unique_ptr<PendingCollective> all_reduce_sum_async(std::vector<at::Tensor>& tensors,
                                                          const std::string& stage) override {
    auto work = guarded(rank_, world_size_, stage, "all-reduce", [&] { return group_->allreduce(tensors); });
    return std::make_unique<PendingWork>(std::move(work), rank_, world_size_, stage);
  }

  void broadcast(std::vector<at::Tensor>& tensors, int root, const std::string& stage) override {
    c10d::BroadcastOptions options;
    options.rootRank = root;
    guarded(rank_, world_size_, stage, "broadcast", [&] { return group_->broadcast(tensors, options)->wait(); });
  }

  void all_gather(at::Tensor& output, at::Tensor& input, const std::string& stage) override {
    const std::int64_t n = input.numel();
    TORCH_CHECK(output.numel() == n * world_size_, "all_gather: output must hold world_size inputs");
    std::vector<at::Tensor> inputs{input.reshape({-1})};
    std::vector<std::vector<at::Tensor>> outputs(1);
    for (int r = 0; r < world_size_; ++r) outputs[0].push_back(output.reshape({-1}).narrow(0, r * n, n));
    guarded(rank_, world_size_, stage, "all-gather", [&] { return group_->allgather(outputs, inputs)->wait(); });
  }

  void reduce_scatter_sum(at::Tensor& output, at::Tensor& input, const std::string& stage) override {
    const std::int64_t n = output.numel();
    TORCH_CHECK(input.numel() == n * world_size_, "reduce_scatter: input must hold world_size outputs");
    if (backend_ == "gloo") {
      // LibTorch 1.13's Gloo group has no reduce-scatter: an all-reduce of a copy gives each rank
      // the same sums (twice the traffic of a ring reduce-scatter, the same result).
      std::vector<at::Tensor> tensors{input.reshape({-1}).clone()};
      all_reduce_sum(tensors, stage);
      output.reshape({-1}).copy_(tensors[0].narrow(0, rank_ * n, n));
      return;
    }
    std::vector<at::Tensor> outputs{output.reshape({-1})};
    std::vector<std::vector<at::Tensor>> inputs(1);
    for (int r = 0; r < world_size_; ++r) inputs[0].push_back(input.reshape({-1}).narrow(0, r * n, n));
    guarded(rank_, world_size_, stage, "reduce-scatter",
            [&] { return group_->reduce_scatter(outputs, inputs)->wait(); });
  }

 private:
  c10::intrusive_ptr<Group> group_;
  int rank_;
  int world_size_;
  std::string backend_;
};

std::shared_ptr<::gloo::transport::Device> gloo_device(const std::string& master_addr) {
  // GLOO_SOCKET_IFNAME names the interface, as in PyTorch; a job on one machine talks over the
  // loopback; otherwise Gloo binds to the address this host's name resolves to.
  if (const char* interface = std::getenv("GLOO_SOCKET_IFNAME"); interface != nullptr && *interface != '\0') {
    return c10d::ProcessGroupGloo::createDeviceForInterface(interface);
  }
  if (master_addr == "127.0.0.1" || master_addr == "localhost") {
    return c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1");
  }
  return c10d::ProcessGroupGloo::createDefaultDevice();
}

std::shared_ptr<Communicator> gloo_communicator(const c10::intrusive_ptr<c10d::Store>& store, int rank, int world_size,
                                                const std::string& master_addr, std::chrono::milliseconds timeout) {
  auto options = c10d::ProcessGroupGloo::Options::create(timeout);
  options->devices.push_back(gloo_device(master_addr));
  options->threads = 2;
  auto group = c10::make_intrusive<c10d::ProcessGroupGloo>(store, rank, world_size, options);
  return std::make_shared<GroupCommunicator<c10d::ProcessGroupGloo>>(std::move(group), rank, world_size, "gloo");
}

}  // namespace

std::vector<double> Communicator::all_reduce_sum(std::vector<double> values, const std::string& stage) {
  if (values.empty()) return values;
  std::vector<at::Tensor> tensors{torch::tensor(values, torch::kFloat64)};
  all_reduce_sum(tensors, stage);
  const double* data = tensors[0].data_ptr<double>();
  return std::vector<double>(data, data + values.size());
}

std::string Communicator::broadcast_string(const std::string& value, int root, const std::string& stage) {
  std::vector<at::Tensor> size{torch::tensor({static_cast<std::int64_t>(value.size())}, torch::kInt64)};
  broadcast(size, root, stage);
  const std::int64_t length = size[0].item<std::int64_t>();
  std::vector<at::Tensor> bytes{torch::zeros({std::max<std::int64_t>(1, length)}, torch::kUInt8)};
  if (rank() == root) std::memcpy(bytes[0].data_ptr(), value.data(), value.size());
  broadcast(bytes, root, stage);
  return std::string(static_cast<const char*>(bytes[0].data_ptr()), static_cast<std::size_t>(length));
}

std::vector<std::string> Communicator::all_gather_strings(const std::string& value, const std::string& stage) {
  at::Tensor my_size = torch::tensor({static_cast<std::int64_t>(value.size())}, torch::kInt64);
  at::Tensor sizes = torch::zeros({world_size()}, torch::kInt64);
  all_gather(sizes, my_size, stage);
  const std::int64_t longest = std::max<std::int64_t>(1, sizes.max().item<std::int64_t>());
  at::Tensor mine = torch::zeros({longest}, torch::kUInt8);
  std::memcpy(mine.data_ptr(), value.data(), value.size());
  at::Tensor all = torch::zeros({longest * world_size()}, torch::kUInt8);
  all_gather(all, mine, stage);
  std::vector<std::string> values;
  const char* data = static_cast<const char*>(all.data_ptr());
  for (int r = 0; r < world_size(); ++r) {
    values.emplace_back(data + r * longest, static_cast<std::size_t>(sizes[r].item<std::int64_t>()));
  }
  return values;
}

std::shared_ptr<Communicator> connect_process_group(const LaunchEnvironment& environment, const std::string& backend,
                                                    std::chrono::milliseconds timeout) {
  const int rank = environment.rank;
  const int world_size = environment.world_size;
  const std::string where = environment.master_addr + ":" + std::to_string(environment.master_port);
  c10::intrusive_ptr<c10d::Store> store;
  try {
    c10d::TCPStoreOptions options;
    options.port = static_cast<std::uint16_t>(environment.master_port);
    options.isServer = rank == 0;
    options.numWorkers = static_cast<std::size_t>(world_size);
    options.waitWorkers = true;
    options.timeout = timeout;
    store = c10::make_intrusive<c10d::TCPStore>(environment.master_addr, options);
  } catch (const std::exception& error) {
    throw CollectiveError("rank " + std::to_string(rank) + "/" + std::to_string(world_size) +
                          ": cannot join the job's store at " + where + " (from the " + environment.source +
                          "): " + error_text(error));
  }
  const auto prefixed = c10::make_intrusive<c10d::PrefixStore>("selm/" + backend, store);
  try {
    if (backend == "gloo") return gloo_communicator(prefixed, rank, world_size, environment.master_addr, timeout);
#ifdef SELM_WITH_NCCL
    if (backend == "nccl") {
      auto options = c10d::ProcessGroupNCCL::Options::create();
      options->timeout = timeout;
      auto group = c10::make_intrusive<c10d::ProcessGroupNCCL>(prefixed, rank, world_size, options);
      return std::make_shared<GroupCommunicator<c10d::ProcessGroupNCCL>>(std::move(group), rank, world_size, "nccl");
    }
#endif
  } catch (const CollectiveError&) {
    throw;
  } catch (const std::exception& error) {
    throw CollectiveError("rank " + std::to_string(rank) + "/" + std::to_string(world_size) + ": cannot create the " +
                          backend + " process group over " + where + ": " + error_text(error));
  }
  throw InputError("backend '" + backend + "': this build of selm has " +
                   (backend == "nccl" ? std::string("no NCCL (a CUDA LibTorch with -DSELM_WITH_NCCL=ON has it)")
                                      : std::string("gloo only")));
}

std::vector<std::shared_ptr<Communicator>> local_gloo_group(int world_size, std::chrono::milliseconds timeout) {
  const auto store = c10::make_intrusive<c10d::HashStore>();
  std::vector<std::shared_ptr<Communicator>> communicators(static_cast<std::size_t>(world_size));
  std::vector<std::exception_ptr> errors(static_cast<std::size_t>(world_size));
  std::vector<std::thread> threads;
  for (int rank = 0; rank < world_size; ++rank) {
    threads.emplace_back([&, rank] {
      try {
        communicators[static_cast<std::size_t>(rank)] = gloo_communicator(store, rank, world_size, "127.0.0.1", timeout);
      } catch (...) {
        errors[static_cast<std::size_t>(rank)] = std::current_exception();
      }
    });
  }
  for (auto& thread : threads) thread.join();
  for (const auto& error : errors) {
    if (error) std::rethrow_exception(error);
  }
  return communicators;
}

}  // namespace selm
