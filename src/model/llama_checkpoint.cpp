#include "selm/model/llama_checkpoint.hpp"

namespace selm {

LlamaForCausalLM load_llama(const fs::path& dir, const Placement& placement,
                            const LlamaRuntimeOptions& runtime_options) {
  const LlamaConfig config = read_model_config(dir);
  LlamaForCausalLM model(config, runtime_options);
  model->to(placement.device, placement.dtype);
  WeightLoadOptions options;
  // A tied model has no lm_head parameter; some converters still store the duplicate.
  if (config.tie_word_embeddings) options.ignored_suffixes.push_back("lm_head.weight");
  load_module_weights(*model, dir, options);
  model->eval();
  return model;
}

void save_llama(LlamaForCausalLM& model, const fs::path& dir, std::int64_t max_shard_bytes) {
  fs::create_directories(dir);
  LlamaConfig config = model->config();
  config.torch_dtype = dtype_name(model->dtype());
  write_model_config(dir, config);
  save_module_weights(*model, dir, max_shard_bytes);
  write_generation_config(dir, config.bos_token_id, config.eos_token_id, config.pad_token_id);
}

}  // namespace selm
