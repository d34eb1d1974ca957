#include "selm/model/lora.hpp"

#include <algorithm>
#include <set>

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include "selm/model/projection.hpp"
#include "selm/util/error.hpp"

namespace selm {

void check_lora_adapter_spec(const LoraAdapterSpec& spec) {
  if (spec.rank < 1) throw InputError("LoRA rank r must be at least 1, got " + std::to_string(spec.rank));
  if (!(spec.alpha > 0)) throw InputError("LoRA lora_alpha must be positive, got " + std::to_string(spec.alpha));
  if (!(spec.dropout >= 0 && spec.dropout < 1)) {
    throw InputError("LoRA lora_dropout must be in [0, 1), got " + std::to_string(spec.dropout));
  }
  resolve_lora_targets(spec.target_modules, "target_modules");  // throws for unknown or repeated names
}

std::vector<std::pair<std::string, std::shared_ptr<ProjectionImpl>>> adapted_projections(torch::nn::Module& module) {
  std::vector<std::pair<std::string, std::shared_ptr<ProjectionImpl>>> found;
  for (const auto& item : module.named_modules(/*name_prefix=*/"", /*include_self=*/false)) {
    auto projection = std::dynamic_pointer_cast<ProjectionImpl>(item.value());
    if (projection && projection->has_adapter()) found.emplace_back(item.key(), projection);
  }
  return found;
}

bool has_lora_adapters(torch::nn::Module& module) { return !adapted_projections(module).empty(); }

bool is_lora_parameter_name(const std::string& name) {
  return name.find(".lora_A.") != std::string::npos || name.find(".lora_B.") != std::string::npos;
}

void set_adapters_enabled(torch::nn::Module& module, bool enabled) {
  for (auto& [name, projection] : adapted_projections(module)) projection->set_adapter_enabled(enabled);
}

AdaptersDisabled::AdaptersDisabled(torch::nn::Module& module) {
  for (auto& [name, projection] : adapted_projections(module)) {
    saved_.emplace_back(projection, projection->adapter_enabled());
    projection->set_adapter_enabled(false);
  }
}

AdaptersDisabled::~AdaptersDisabled() {
  for (auto& [projection, enabled] : saved_) projection->set_adapter_enabled(enabled);
}

void reset_lora_adapters(torch::nn::Module& module, std::int64_t seed) {
  at::Generator generator = at::detail::createCPUGenerator(static_cast<std::uint64_t>(seed));
  for (auto& [name, projection] : adapted_projections(module)) projection->reset_adapter(generator);
}

void merge_lora_adapters(torch::nn::Module& module, std::int64_t seed) {
  torch::NoGradGuard no_grad;
  for (auto& [name, projection] : adapted_projections(module)) projection->weight.copy_(projection->merged_weight());
  reset_lora_adapters(module, seed);
}

void freeze_base_weights(torch::nn::Module& module) {
  for (const auto& item : module.named_parameters(/*recurse=*/true)) {
    item.value().set_requires_grad(is_lora_parameter_name(item.key()));
  }
}

std::int64_t trainable_parameter_count(torch::nn::Module& module) {
  std::int64_t count = 0;
  for (const auto& parameter : module.parameters(/*recurse=*/true)) {
    if (parameter.requires_grad()) count += parameter.numel();
  }
  return count;
}

}  // namespace selm
