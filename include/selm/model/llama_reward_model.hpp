// A reward model: the Llama backbone with a scalar head, in the Hugging Face
// LlamaForSequenceClassification layout, and its model directory.
//
// Shape legend (as in llama.hpp)
//   B  batch rows    T  tokens per row    C  hidden_size    L  num_labels (1 for a reward model)
//
// Parameter names equal Hugging Face's:
//   model.*          exactly the LlamaModel weights of a LlamaForCausalLM checkpoint
//   score.weight     (L, C), no bias
//
// The score of a sequence is the head applied to the final-normed hidden state of its last
// real token. "Real" follows transformers: a token counts when its attention mask is 1 and,
// when config.json has a pad_token_id, its id is not the pad id (transformers looks only at the
// ids: with pad_token_id equal to eos_token_id a trailing EOS is therefore skipped, in both).
// With left padding the last real token is the last position of every row.
//
// config.json is the LlamaForCausalLM one with "architectures": ["LlamaForSequenceClassification"]
// (or MistralForSequenceClassification), "num_labels", "id2label" and "label2id".
#pragma once

#include <cstdint>
#include <filesystem>

#include <torch/torch.h>

#include "selm/model/device.hpp"
#include "selm/model/hf_model_dir.hpp"
#include "selm/model/llama.hpp"
#include "selm/model/llama_config.hpp"

namespace selm {

class LlamaForSequenceClassificationImpl : public torch::nn::Module {
 public:
  // Builds the modules and initialises them randomly (normal(0, initializer_range) for
  // embeddings, projections and the head; ones for norms) on the CPU in float32. Uses torch's
  // global generator. InputError for an inconsistent config or num_labels < 1.
  explicit LlamaForSequenceClassificationImpl(const LlamaConfig& config, std::int64_t num_labels = 1);

  // input_ids: (B, T) int64; attention_mask: (B, T) (1 real, 0 pad; left or right padding)
  // -> (B, L) in the parameters' dtype. A row without any real token is an InputError.
  torch::Tensor forward(const torch::Tensor& input_ids, const torch::Tensor& attention_mask);

  // Index of each row's last real token (see the file comment).
  // input_ids, attention_mask: (B, T) -> (B) int64
  torch::Tensor last_real_positions(const torch::Tensor& input_ids, const torch::Tensor& attention_mask) const;

  void reset_parameters();

  const LlamaConfig& config() const { return config_; }
  std::int64_t num_labels() const { return num_labels_; }
  torch::Device device() const;
  torch::Dtype dtype() const;

  LlamaModel model{nullptr};
  torch::nn::Linear score{nullptr};

 private:
  LlamaConfig config_;
  std::int64_t num_labels_;
};
TORCH_MODULE(LlamaForSequenceClassification);

// Builds the model that DIR/config.json describes on `placement`, loads its weights and puts it
// in eval mode. config.json must name a *ForSequenceClassification architecture with one label;
// a stray `lm_head.weight` in the weights is ignored. Bad directories, configs and weights are
// InputErrors naming the file.
LlamaForSequenceClassification load_reward_model(const std::filesystem::path& dir, const Placement& placement);

// Writes config.json (torch_dtype = the parameters' dtype) and the weights (sharded above
// `max_shard_bytes`) into DIR (created if missing), each file atomically. Tokenizer files are
// written by the text area.
void save_reward_model(LlamaForSequenceClassification& model, const std::filesystem::path& dir,
                       std::int64_t max_shard_bytes = kDefaultMaxShardBytes);

}  // namespace selm
