#include "selm/model/activation_checkpoint.hpp"

#include <mutex>
#include <optional>
#include <utility>

#include <ATen/core/Generator.h>
#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include "selm/model/autocast.hpp"

namespace selm {

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// A generator's state, to be put back later.
struct GeneratorSnapshot {
  at::Generator generator;
  torch::Tensor state;

  static GeneratorSnapshot of(at::Generator generator) {  // a handle: copies share the generator
    std::lock_guard<std::mutex> lock(generator.mutex());
    torch::Tensor state = generator.get_state();
    return {std::move(generator), std::move(state)};
  }
  void restore() const {
    at::Generator handle = generator;
    std::lock_guard<std::mutex> lock(handle.mutex());
    handle.set_state(state);
  }
};

// The generators that `function` may draw from: the CPU's, and the CUDA device's of the input.
std::vector<GeneratorSnapshot> snapshot_generators(const torch::Tensor& input) {
  std::vector<GeneratorSnapshot> snapshots{GeneratorSnapshot::of(at::detail::getDefaultCPUGenerator())};
  if (input.is_cuda()) snapshots.push_back(GeneratorSnapshot::of(at::globalContext().defaultGenerator(input.device())));
  return snapshots;
}

// What the backward needs besides the saved input: held by the graph node as a capsule.
struct Recomputation : torch::CustomClassHolder {
  CheckpointedFunction function;
  std::vector<GeneratorSnapshot> generators;  // as the forward found them
  AutocastState autocast;
};

struct CheckpointFunction : torch::autograd::Function<CheckpointFunction> {
  // Every Tensor argument is an input of the graph node: `input`, then the parameters.
  static torch::Tensor forward(AutogradContext* context, const torch::Tensor& input, at::TensorList parameters,
                               const CheckpointedFunction& function) {
    auto recomputation = c10::make_intrusive<Recomputation>();
    recomputation->function = function;
    recomputation->generators = snapshot_generators(input);
    recomputation->autocast = current_autocast_state();
    torch::Tensor output;
    {
      torch::NoGradGuard no_grad;  // Function::apply runs forward so already; said here because it is the point
      // Casted weights made here have no graph: they must not stay in autocast's cache, where a
      // later use with gradients would pick them up.
      AutocastState uncached = recomputation->autocast;
      uncached.cache_enabled = false;
      const AutocastScope autocast(uncached);
      output = function(input);
    }
    variable_list saved{input};
    saved.insert(saved.end(), parameters.begin(), parameters.end());
    context->save_for_backward(saved);
    context->saved_data["recomputation"] = c10::IValue::make_capsule(std::move(recomputation));
    return output;
  }

  static variable_list backward(AutogradContext* context, variable_list output_grads) {
    const variable_list saved = context->get_saved_variables();
    const torch::Tensor& input = saved[0];
    const auto recomputation = c10::static_intrusive_pointer_cast<Recomputation>(
        context->saved_data["recomputation"].toCapsule());
    const torch::Tensor replay_input = input.detach().requires_grad_(input.requires_grad());
    torch::Tensor output;
    {
      const std::vector<GeneratorSnapshot> current = snapshot_generators(input);
      for (const auto& snapshot : recomputation->generators) snapshot.restore();
      torch::AutoGradMode grad_on(true);
      AutocastState uncached = recomputation->autocast;
      uncached.cache_enabled = false;
      const AutocastScope autocast(uncached);
      output = recomputation->function(replay_input);
      for (const auto& snapshot : current) snapshot.restore();
    }
    // The node's inputs in order: the input, the parameters; then nothing for `function`.
    variable_list wanted;
    if (replay_input.requires_grad()) wanted.push_back(replay_input);
    wanted.insert(wanted.end(), saved.begin() + 1, saved.end());
    variable_list grads;
    if (!wanted.empty() && output.requires_grad()) {
      grads = torch::autograd::grad({output}, wanted, {output_grads[0]}, /*retain_graph=*/false,
                                    /*create_graph=*/false, /*allow_unused=*/true);
    }
    variable_list result;
    std::size_t next = 0;
    result.push_back(replay_input.requires_grad() && next < grads.size() ? grads[next++] : torch::Tensor());
    for (std::size_t i = 1; i < saved.size(); ++i) {
      result.push_back(next < grads.size() ? grads[next++] : torch::Tensor());
    }
    result.push_back(torch::Tensor());
    return result;
  }
};

}  // namespace

torch::Tensor checkpointed(const CheckpointedFunction& function, const torch::Tensor& input,
                           const std::vector<torch::Tensor>& parameters) {
  std::vector<torch::Tensor> trainable;  // a frozen weight gets no gradient and is no input of the node
  for (const auto& parameter : parameters) {
    if (parameter.requires_grad()) trainable.push_back(parameter);
  }
  return CheckpointFunction::apply(input, at::TensorList(trainable), function);
}

}  // namespace selm
