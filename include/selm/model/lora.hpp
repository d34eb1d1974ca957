// LoRA adapters of a model's projections (projection.hpp), as a whole: the names they may
// target, switching them off for the reference, merging them into the weights, their
// initialisation and what training updates. The functions take any module and act on every
// adapted Projection inside it, in named_modules() order.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "selm/model/llama_runtime_options.hpp"

namespace torch::nn {
class Module;
}

namespace selm {

class ProjectionImpl;

// The projections an adapter may target, as PEFT names the Llama's modules.
inline const std::vector<std::string>& lora_target_names() {
  static const std::vector<std::string> names = {"q_proj",    "k_proj",  "v_proj",    "o_proj",
                                                 "gate_proj", "up_proj", "down_proj", "lm_head"};
  return names;
}
// PEFT's shorthand for every linear layer but the output head.
inline constexpr const char* kLoraAllLinear = "all-linear";

// What is wrong with a list of targets (an unknown name, a repeated one, an empty list,
// all-linear beside other names), or "" when nothing is.
std::string lora_targets_problem(const std::vector<std::string>& targets);
// `targets` with "all-linear" (allowed only alone) expanded to the seven projections of the
// decoder layers, in lora_target_names() order. Throws InputError "key 'KEY': PROBLEM" for a
// list lora_targets_problem refuses; `key` names where the list came from.
std::vector<std::string> resolve_lora_targets(const std::vector<std::string>& targets, const std::string& key);

// InputError for a rank < 1, alpha <= 0, dropout outside [0, 1) or an unknown target.
void check_lora_adapter_spec(const LoraAdapterSpec& spec);

// The adapted projections of `module` with their module names
// ("model.layers.0.self_attn.q_proj"), in named_modules() order.
std::vector<std::pair<std::string, std::shared_ptr<ProjectionImpl>>> adapted_projections(torch::nn::Module& module);
bool has_lora_adapters(torch::nn::Module& module);
// True for the parameter names of adapter factors ("...q_proj.lora_A.weight").
bool is_lora_parameter_name(const std::string& name);

// Turns every adapter term on or off. Off, the model computes exactly its base weights.
void set_adapters_enabled(torch::nn::Module& module, bool enabled);

// Scope in which the adapters are off (the frozen reference is the same model, adapters off);
// the adapters' earlier state is restored on exit.
class AdaptersDisabled {
 public:
  explicit AdaptersDisabled(torch::nn::Module& module);
  ~AdaptersDisabled();
  AdaptersDisabled(const AdaptersDisabled&) = delete;
  AdaptersDisabled& operator=(const AdaptersDisabled&) = delete;

 private:
  std::vector<std::pair<std::shared_ptr<ProjectionImpl>, bool>> saved_;
};

// Every adapter as PEFT initialises it (ProjectionImpl::reset_adapter), from one CPU generator
// seeded with `seed` and drawn in module order.
void reset_lora_adapters(torch::nn::Module& module, std::int64_t seed);

// W <- W + scaling * B A for every enabled adapter, then the adapters are initialised afresh
// from `seed` (B = 0), so the model computes what it did, now in its weights.
void merge_lora_adapters(torch::nn::Module& module, std::int64_t seed);

// Only the adapters get gradients: every other parameter gets requires_grad = false.
void freeze_base_weights(torch::nn::Module& module);

// Elements of the parameters that require gradients (what the optimiser updates).
std::int64_t trainable_parameter_count(torch::nn::Module& module);

}  // namespace selm
