// One linear projection of the Llama: q/k/v/o_proj, gate/up/down_proj and lm_head.
//
// y = x W^T, without bias. The parent registers the projection under the Hugging Face name
// ("q_proj") and the projection registers its matrix as "weight", so the parameter is
// `...self_attn.q_proj.weight` as in the checkpoint.
//
// LoRA adapters belong to this module, the one place where they attach. An adapted projection
// registers the submodules `lora_A` and `lora_B` after `weight` (so the base parameters keep
// their names and their order in named_parameters()), each holding a "weight" as PEFT names it:
//   ...q_proj.lora_A.weight   (r, in)      ...q_proj.lora_B.weight   (out, r)
// and computes y = x W^T + scaling * B A dropout(x), scaling = alpha / r (PEFT's LoRA layer).
// With the adapter disabled the adapter term is skipped, so the output is the base's exactly.
#pragma once

#include <cstdint>

#include <torch/torch.h>

#include "selm/model/llama_runtime_options.hpp"

namespace selm {

class ProjectionImpl : public torch::nn::Module {
 public:
  // The weight starts as torch::nn::Linear's does (kaiming_uniform_, a = sqrt(5)) and so draws
  // the same numbers from torch's global generator: LlamaForCausalLM::reset_parameters()
  // overwrites it, but every later draw, hence every seeded model, depends on this one.
  // `adapter` (nullptr = none) adds a LoRA adapter; its factors are left for
  // reset_adapter() to fill, so an adapter draws nothing from the global generator.
  ProjectionImpl(std::int64_t in_features, std::int64_t out_features, const LoraAdapterSpec* adapter = nullptr);

  // x: (..., in_features) -> (..., out_features), in the weight's dtype.
  torch::Tensor forward(const torch::Tensor& x);

  std::int64_t in_features() const { return weight.size(1); }
  std::int64_t out_features() const { return weight.size(0); }

  bool has_adapter() const { return lora_A_weight.defined(); }
  // Whether forward() adds the adapter term (true from construction).
  bool adapter_enabled() const { return has_adapter() && adapter_enabled_; }
  void set_adapter_enabled(bool enabled) { adapter_enabled_ = enabled; }
  double adapter_scaling() const { return adapter_scaling_; }

  // PEFT's initialisation: A as kaiming_uniform_(a = sqrt(5)), i.e. uniform in
  // +-1/sqrt(in_features), drawn from `generator` (a CPU generator); B = 0, so that the adapted
  // projection starts equal to the base one.
  void reset_adapter(at::Generator& generator);
  // W + scaling * B A, the weight that computes the adapted projection without the adapter.
  // -> (out_features, in_features), in the weight's dtype.
  torch::Tensor merged_weight() const;

  torch::Tensor weight;         // (out_features, in_features)
  torch::Tensor lora_A_weight;  // (r, in_features); undefined without an adapter
  torch::Tensor lora_B_weight;  // (out_features, r)

 private:
  bool adapter_enabled_ = true;
  double adapter_scaling_ = 0.0;
  double adapter_dropout_ = 0.0;
};
TORCH_MODULE(Projection);

}  // namespace selm
