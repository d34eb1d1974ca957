// One linear projection of the Llama: q/k/v/o_proj, gate/up/down_proj and lm_head.
//
// y = x W^T, without bias. The parent registers the projection under the Hugging Face name
// ("q_proj") and the projection registers its matrix as "weight", so the parameter is
// `...self_attn.q_proj.weight` as in the checkpoint.
//
// Extension point: LoRA adapters belong to this module. An adapter will be a submodule
// registered after `weight` (so the base parameters keep their names and their order in
// named_parameters()), whose low-rank term forward() adds to the base output. None exists yet.
#pragma once

#include <cstdint>

#include <torch/torch.h>

namespace selm {

class ProjectionImpl : public torch::nn::Module {
 public:
  // The weight starts as torch::nn::Linear's does (kaiming_uniform_, a = sqrt(5)) and so draws
  // the same numbers from torch's global generator: LlamaForCausalLM::reset_parameters()
  // overwrites it, but every later draw, hence every seeded model, depends on this one.
  ProjectionImpl(std::int64_t in_features, std::int64_t out_features);

  // x: (..., in_features) -> (..., out_features), in the weight's dtype.
  torch::Tensor forward(const torch::Tensor& x);

  std::int64_t in_features() const { return weight.size(1); }
  std::int64_t out_features() const { return weight.size(0); }

  torch::Tensor weight;  // (out_features, in_features)
};
TORCH_MODULE(Projection);

}  // namespace selm
