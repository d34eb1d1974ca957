// Activation checkpointing: a function whose intermediate activations are not kept for backward
// but recomputed there, trading one more forward of it for the memory of its activations.
//
// LibTorch's C++ API has no torch.utils.checkpoint; this is its reentrant form. The forward
// runs `function` without a graph and keeps only `input` (and whatever `function` itself holds,
// such as the decoder layer's cos/sin tables and mask). Backward runs it again with gradients
// on, from the saved input, and backpropagates the incoming gradient through that graph.
//
// The recomputation sees what the first run saw: torch's CPU random generator (and the CUDA one
// of the input's device) is set to its state at the first run, so dropout draws the same
// mask, and then put back, so that nothing else's random numbers change; the autocast state
// (model/autocast.hpp) is replayed too. `function` must therefore compute the same thing twice
// from the same input and generator state.
#pragma once

#include <functional>
#include <vector>

#include <torch/types.h>

namespace selm {

using CheckpointedFunction = std::function<torch::Tensor(const torch::Tensor&)>;

// function(input), with the activations inside `function` recomputed in backward.
// `parameters`: the tensors requiring gradients that `function` reads besides `input` (a
// layer's trainable weights). They are declared so that the result requires a gradient even
// when `input` does not (a frozen embedding below trainable adapters), and they receive their
// gradients through the graph like any other use. input: any shape -> function's result.
torch::Tensor checkpointed(const CheckpointedFunction& function, const torch::Tensor& input,
                           const std::vector<torch::Tensor>& parameters);

}  // namespace selm
