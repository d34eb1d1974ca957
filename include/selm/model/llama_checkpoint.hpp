// A LlamaForCausalLM <-> a Hugging Face model directory (config.json, model.safetensors or
// shards, generation_config.json). Tokenizer files are written by the text area.
#pragma once

#include <cstdint>
#include <filesystem>

#include "selm/model/device.hpp"
#include "selm/model/hf_model_dir.hpp"
#include "selm/model/llama.hpp"
#include "selm/model/llama_runtime_options.hpp"

namespace selm {

// What becomes of a model's LoRA adapters (lora.hpp) in its directory.
enum class AdapterWeights {
  // A plain Hugging Face directory: each adapted weight is saved merged (W + scaling B A, when
  // the adapter is enabled) and no adapter tensor is written. Loading it leaves the adapters as
  // they are.
  merged,
  // The base weights as they are, and the adapter factors beside them under their parameter
  // names (...q_proj.lora_A.weight): what a training checkpoint needs to resume exactly.
  // Loading requires every adapter tensor.
  alongside,
};

// Builds the model that DIR/config.json describes on `placement`, computing as
// `runtime_options` say (not stored in the directory), and loads its weights.
// Bad directories, configs and weights are InputErrors naming the file.
LlamaForCausalLM load_llama(const fs::path& dir, const Placement& placement,
                            const LlamaRuntimeOptions& runtime_options = {});

// Loads DIR's weights into `model` (as load_llama does, without building it anew).
void load_llama_weights(LlamaForCausalLM& model, const fs::path& dir, AdapterWeights adapters = AdapterWeights::merged);

// Writes config.json (torch_dtype = the parameters' dtype), the weights and
// generation_config.json into DIR (created if missing). Each file is replaced atomically. The
// runtime options are not saved: they belong to the run, not to the model.
void save_llama(LlamaForCausalLM& model, const fs::path& dir, std::int64_t max_shard_bytes = kDefaultMaxShardBytes,
                AdapterWeights adapters = AdapterWeights::merged);

}  // namespace selm
