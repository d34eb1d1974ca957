// A LlamaForCausalLM <-> a Hugging Face model directory (config.json, model.safetensors or
// shards, generation_config.json). Tokenizer files are written by the text area.
#pragma once

#include <cstdint>
#include <filesystem>

#include "selm/model/device.hpp"
#include "selm/model/hf_model_dir.hpp"
#include "selm/model/llama.hpp"

namespace selm {

// Builds the model that DIR/config.json describes on `placement` and loads its weights.
// Bad directories, configs and weights are InputErrors naming the file.
LlamaForCausalLM load_llama(const fs::path& dir, const Placement& placement);

// Writes config.json (torch_dtype = the parameters' dtype), the weights and
// generation_config.json into DIR (created if missing). Each file is replaced atomically.
void save_llama(LlamaForCausalLM& model, const fs::path& dir, std::int64_t max_shard_bytes = kDefaultMaxShardBytes);

}  // namespace selm
