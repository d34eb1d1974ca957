// Hugging Face model directories: config.json, generation_config.json and the weights as
// model.safetensors or as shards listed in model.safetensors.index.json.
//
// Weights are matched to a torch::nn::Module by name: the module's parameter names
// (`module.named_parameters()`, e.g. "model.layers.0.self_attn.q_proj.weight") are the
// checkpoint's tensor names, so any module whose registration names follow Hugging Face's
// loads without a mapping table.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "selm/model/llama_config.hpp"

namespace at {
class Tensor;
}
namespace torch::nn {
class Module;
}

namespace selm {

namespace fs = std::filesystem;

inline constexpr const char* kModelConfigFile = "config.json";
inline constexpr const char* kGenerationConfigFile = "generation_config.json";
inline constexpr const char* kSingleWeightsFile = "model.safetensors";
inline constexpr const char* kWeightsIndexFile = "model.safetensors.index.json";
// transformers' default max_shard_size ("5GB").
inline constexpr std::int64_t kDefaultMaxShardBytes = 5'000'000'000;

// Reads DIR/config.json (see llama_config_from_hf_json). A missing directory or file is an
// InputError naming it; so is any invalid or unsupported key ("DIR/config.json: key 'K': ...").
LlamaConfig read_model_config(const fs::path& dir);

// Writes DIR/config.json atomically, loadable by transformers. The config must be valid with
// a known vocab_size (InputError otherwise).
void write_model_config(const fs::path& dir, const LlamaConfig& config);

// Writes DIR/generation_config.json atomically as transformers does: bos_token_id,
// eos_token_id, and pad_token_id when set.
void write_generation_config(const fs::path& dir, std::int64_t bos_token_id, std::int64_t eos_token_id,
                             std::optional<std::int64_t> pad_token_id = std::nullopt);

// Every end-of-sequence id the model's files name: eos_token_id of DIR/generation_config.json and
// of DIR/config.json, each a number or a list (Llama-3 lists <|end_of_text|> and <|eot_id|>), in
// that order without repeats. Absent files or keys give none; a value of the wrong type is an
// InputError naming the file and key.
std::vector<std::int64_t> read_end_token_ids(const fs::path& dir);

struct WeightLoadOptions {
  // Parameters that may be absent from the checkpoint; they keep their current values.
  // Pass {"lm_head.weight"} when config.tie_word_embeddings.
  std::set<std::string> optional_names;
  // Checkpoint tensors whose name ends with one of these are skipped rather than rejected as
  // unexpected: some converters save the rotary tables, which the model recomputes.
  std::vector<std::string> ignored_suffixes = {"rotary_emb.inv_freq"};
  // Also fill `module.named_buffers()`. LibTorch has no non-persistent buffers, so leave this
  // off when the module's buffers are derived from the config (rotary tables).
  bool include_buffers = false;
};

// Copies the weights of DIR (model.safetensors, else the shards of
// model.safetensors.index.json) into the module's existing parameters, which keep their device
// and dtype (the stored dtype is converted on the way). Every parameter must be found with the
// same shape, and every stored tensor must belong to a parameter. Errors are InputErrors naming
// the file and tensor, e.g. "DIR/model.safetensors: shape [64, 32] of tensor
// 'model.embed_tokens.weight' disagrees with config.json, which implies [64, 48]".
void load_module_weights(torch::nn::Module& module, const fs::path& dir, const WeightLoadOptions& options = {});

// Writes the module's parameters (minus `skip_names`, e.g. {"lm_head.weight"} when tied) in
// their own dtype: DIR/model.safetensors when they total at most `max_shard_bytes`, else
// DIR/model-00001-of-0000N.safetensors ... plus DIR/model.safetensors.index.json. Every file is
// written atomically; weight files of the other layout (or of a different shard count) left in
// DIR by an earlier save are removed afterwards.
void save_module_weights(torch::nn::Module& module, const fs::path& dir,
                         std::int64_t max_shard_bytes = kDefaultMaxShardBytes,
                         const std::set<std::string>& skip_names = {});

// The same for named tensors that need not be a module's parameters (merged LoRA weights), in
// the given order.
void save_named_weights(std::vector<std::pair<std::string, at::Tensor>> tensors, const fs::path& dir,
                        std::int64_t max_shard_bytes = kDefaultMaxShardBytes);

}  // namespace selm
