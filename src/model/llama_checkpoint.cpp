#include "selm/model/llama_checkpoint.hpp"

#include <map>

#include "selm/model/lora.hpp"

namespace selm {

namespace {

// The tensors of a plain directory: every base parameter, each adapted weight merged.
std::vector<std::pair<std::string, torch::Tensor>> merged_weights(LlamaForCausalLM& model) {
  std::map<std::string, std::shared_ptr<ProjectionImpl>> adapted;
  for (auto& [name, projection] : adapted_projections(*model)) adapted.emplace(name + ".weight", projection);
  std::vector<std::pair<std::string, torch::Tensor>> tensors;
  for (const auto& item : model->named_parameters(/*recurse=*/true)) {
    if (is_lora_parameter_name(item.key())) continue;
    const auto projection = adapted.find(item.key());
    tensors.emplace_back(item.key(),
                         projection == adapted.end() ? item.value().detach() : projection->second->merged_weight());
  }
  return tensors;
}

}  // namespace

LlamaForCausalLM load_llama(const fs::path& dir, const Placement& placement,
                            const LlamaRuntimeOptions& runtime_options) {
  const LlamaConfig config = read_model_config(dir);
  LlamaForCausalLM model(config, runtime_options);
  model->to(placement.device, placement.dtype);
  load_llama_weights(model, dir);
  model->eval();
  return model;
}

void load_llama_weights(LlamaForCausalLM& model, const fs::path& dir, AdapterWeights adapters) {
  WeightLoadOptions options;
  // A tied model has no lm_head parameter; some converters still store the duplicate.
  if (model->config().tie_word_embeddings) options.ignored_suffixes.push_back("lm_head.weight");
  if (adapters == AdapterWeights::merged) {
    for (const auto& item : model->named_parameters(/*recurse=*/true)) {
      if (is_lora_parameter_name(item.key())) options.optional_names.insert(item.key());
    }
  }
  load_module_weights(*model, dir, options);
}

void save_llama(LlamaForCausalLM& model, const fs::path& dir, std::int64_t max_shard_bytes, AdapterWeights adapters) {
  fs::create_directories(dir);
  LlamaConfig config = model->config();
  config.torch_dtype = dtype_name(model->dtype());
  write_model_config(dir, config);
  if (adapters == AdapterWeights::alongside || !has_lora_adapters(*model)) {
    save_module_weights(*model, dir, max_shard_bytes);
  } else {
    save_named_weights(merged_weights(model), dir, max_shard_bytes);
  }
  write_generation_config(dir, config.bos_token_id, config.eos_token_id, config.pad_token_id);
}

}  // namespace selm
