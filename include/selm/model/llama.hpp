// Llama-family decoder (Llama 1/2/3, TinyLlama, Mistral, Zephyr) in LibTorch.
//
// Shape legend
//   B        batch rows
//   T        new tokens in this forward pass (the whole sequence without a cache, 1 per decoding step)
//   S        key slots visible to the pass = cached slots + T (the attention mask's width)
//   C        hidden_size                  V  vocab_size           F  intermediate_size
//   H        num_attention_heads          n_kv  num_key_value_heads  (H % n_kv == 0; n_rep = H / n_kv)
//   D        head_dim (resolved_head_dim())
//
// Parameter names equal Hugging Face's, so loading a checkpoint is a lookup in
// LlamaForCausalLM::named_parameters():
//   model.embed_tokens.weight                          (V, C)
//   model.layers.N.input_layernorm.weight              (C)
//   model.layers.N.self_attn.q_proj.weight             (H * D, C)
//   model.layers.N.self_attn.{k,v}_proj.weight         (n_kv * D, C)
//   model.layers.N.self_attn.o_proj.weight             (C, H * D)
//   model.layers.N.post_attention_layernorm.weight     (C)
//   model.layers.N.mlp.{gate,up}_proj.weight           (F, C)
//   model.layers.N.mlp.down_proj.weight                (C, F)
//   model.norm.weight                                  (C)
//   lm_head.weight                                     (V, C)   absent when tie_word_embeddings
// No biases, no buffers: rotary cos/sin are computed per forward from the position ids (cheap,
// and nothing position-dependent is ever saved or has to follow .to(device)).
//
// Tied embeddings: with tie_word_embeddings there is no lm_head module at all and the logits
// are hidden @ embed_tokens.weight^T, so the weight exists once; a checkpoint's `lm_head.weight`
// (if any) is then redundant and must be skipped by the loader.
//
// Conventions (those of Hugging Face transformers):
//   - attention_mask: 1 = real token, 0 = pad; it covers every key slot (cached + new).
//   - position ids count real tokens only, so a left-padded prompt gets the same positions as the
//     unpadded one (position_ids_from_mask).
//   - RMSNorm is computed in float32 and cast back before the weight multiply.
//   - RoPE uses the rotate-half layout: dims [0, D/2) pair with [D/2, D).
//   - Mistral's sliding_window W > 0: a query at position i sees keys at positions j with
//     i - W < j <= i.
//   - Queries with no visible key (pad queries) produce finite garbage, never NaN.
//
// Run-time options (LlamaRuntimeOptions, never saved in config.json) reach the backbone, its
// decoder layers and their attention through the constructors; the defaults compute exactly the
// model above. Extension points:
//   - LoRA: every projection, lm_head included, is a Projection submodule (projection.hpp), the
//     one place where adapters attach; LlamaRuntimeOptions::lora describes them and lora.hpp
//     switches, merges and counts them. With adapters the base weights are frozen.
//   - Activation checkpointing: with LlamaRuntimeOptions::activation_checkpointing, a training
//     pass with gradients runs each decoder block through model/activation_checkpoint.hpp, which
//     recomputes it in backward; passes with a cache or without gradients run it plainly.
//   - Fast attention: select_attention_kernel maps LlamaRuntimeOptions::attention to the kernel
//     each LlamaAttention runs; `sdpa` is wired in there.
//   - Mixed precision: the dtype comes from the parameters (bf16 = model->to(torch::kBFloat16));
//     under autocast (model/autocast.hpp) the projections compute in bfloat16 on float32 weights
//     while the embedding output, the residual stream and the norms stay float32.
#pragma once

#include <cstdint>
#include <utility>

#include <torch/torch.h>

#include "selm/model/kv_cache.hpp"
#include "selm/model/llama_config.hpp"
#include "selm/model/llama_runtime_options.hpp"
#include "selm/model/projection.hpp"

namespace selm {

// Positions of the last `new_tokens` slots, counting real tokens only (pads get 0).
// attention_mask: (B, S) int/bool/float -> (B, new_tokens) int64, on the mask's device.
torch::Tensor position_ids_from_mask(const torch::Tensor& attention_mask, std::int64_t new_tokens);

// Which key slots each query may attend to: causal over slots, real keys only, and the
// sliding window (0 = none) measured in real-token positions.
// attention_mask: (B, S) -> allowed: (B, 1, T, S) bool, where the T queries are the last T slots.
torch::Tensor build_attention_allowed(const torch::Tensor& attention_mask, std::int64_t new_tokens,
                                      std::int64_t sliding_window);

// Rotary tables for the given positions, in float32 on position_ids' device.
// position_ids: (B, T) -> {cos, sin}: (B, T, D) each.
std::pair<torch::Tensor, torch::Tensor> rotary_cos_sin(const torch::Tensor& position_ids, std::int64_t head_dim,
                                                       double rope_theta);

// x * cos + rotate_half(x) * sin. x: (B, heads, T, D); cos, sin: (B, T, D) float32.
torch::Tensor apply_rotary(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin);

// The one attention kernel: softmax(q k^T / sqrt(D), masked) v with grouped-query heads, the
// softmax in float32. q: (B, H, T, D); k, v: (B, n_kv, S, D); allowed: (B, 1, T, S) bool
// -> (B, H, T, D) in q's dtype.
torch::Tensor grouped_query_attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                                      const torch::Tensor& allowed);

// The signature every attention kernel shares: that of grouped_query_attention.
using AttentionKernel = torch::Tensor (*)(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                                          const torch::Tensor& allowed);

// The one place where the attention implementation is chosen: eager -> grouped_query_attention.
// Throws InputError for an implementation that is declared but not implemented yet (sdpa).
AttentionKernel select_attention_kernel(AttentionImplementation implementation);

class RMSNormImpl : public torch::nn::Module {
 public:
  RMSNormImpl(std::int64_t hidden_size, double eps);
  // x: (..., C) -> (..., C)
  torch::Tensor forward(const torch::Tensor& x);

  torch::Tensor weight;  // (C)

 private:
  double eps_;
};
TORCH_MODULE(RMSNorm);

class LlamaAttentionImpl : public torch::nn::Module {
 public:
  LlamaAttentionImpl(const LlamaConfig& config, std::int64_t layer_index,
                     const LlamaRuntimeOptions& runtime_options = {});
  // x: (B, T, C); cos, sin: (B, T, D); allowed: (B, 1, T, S); cache: nullptr or one with
  // length() == S - T -> (B, T, C)
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin,
                        const torch::Tensor& allowed, KVCache* cache = nullptr);

  Projection q_proj{nullptr}, k_proj{nullptr}, v_proj{nullptr}, o_proj{nullptr};

 private:
  AttentionKernel attention_kernel_;
  std::int64_t layer_index_;
  std::int64_t num_heads_;
  std::int64_t num_kv_heads_;
  std::int64_t head_dim_;
};
TORCH_MODULE(LlamaAttention);

class LlamaMLPImpl : public torch::nn::Module {
 public:
  explicit LlamaMLPImpl(const LlamaConfig& config, const LlamaRuntimeOptions& runtime_options = {});
  // x: (B, T, C) -> down(silu(gate(x)) * up(x)): (B, T, C)
  torch::Tensor forward(const torch::Tensor& x);

  Projection gate_proj{nullptr}, up_proj{nullptr}, down_proj{nullptr};
};
TORCH_MODULE(LlamaMLP);

class LlamaDecoderLayerImpl : public torch::nn::Module {
 public:
  LlamaDecoderLayerImpl(const LlamaConfig& config, std::int64_t layer_index,
                        const LlamaRuntimeOptions& runtime_options = {});
  // Pre-norm block: h = x + attn(norm(x)); out = h + mlp(norm(h)).
  // x: (B, T, C); cos, sin: (B, T, D); allowed: (B, 1, T, S) -> (B, T, C)
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin,
                        const torch::Tensor& allowed, KVCache* cache = nullptr);

  LlamaAttention self_attn{nullptr};
  LlamaMLP mlp{nullptr};
  RMSNorm input_layernorm{nullptr}, post_attention_layernorm{nullptr};
};
TORCH_MODULE(LlamaDecoderLayer);

// The backbone (`model.*` in a checkpoint): embeddings, decoder blocks, final norm. A reward
// model adds its own head on top of this.
class LlamaModelImpl : public torch::nn::Module {
 public:
  // Throws InputError for an inconsistent config or runtime options not supported yet.
  explicit LlamaModelImpl(const LlamaConfig& config, const LlamaRuntimeOptions& runtime_options = {});

  // Final-normed hidden states of the T new tokens.
  // input_ids: (B, T) int64; attention_mask: (B, S) with S = cached + T (1 real, 0 pad);
  // position_ids: (B, T) int64 (position_ids_from_mask when undefined); cache: nullptr, or a
  // cache whose length() == S - T, which this call extends by T -> (B, T, C)
  torch::Tensor forward(const torch::Tensor& input_ids, const torch::Tensor& attention_mask,
                        const torch::Tensor& position_ids = {}, KVCache* cache = nullptr);

  const LlamaConfig& config() const { return config_; }
  const LlamaRuntimeOptions& runtime_options() const { return runtime_options_; }

  torch::nn::Embedding embed_tokens{nullptr};
  torch::nn::ModuleList layers{nullptr};
  RMSNorm norm{nullptr};

 private:
  LlamaConfig config_;
  LlamaRuntimeOptions runtime_options_;
  std::vector<LlamaDecoderLayer> layer_modules_;  // the same modules as `layers`, typed
};
TORCH_MODULE(LlamaModel);

class LlamaForCausalLMImpl : public torch::nn::Module {
 public:
  // Builds the modules and initialises them randomly (reset_parameters) on the CPU in float32;
  // move with ->to(device, dtype) and overwrite with checkpoint weights as needed.
  // Throws InputError for an inconsistent config (heads not dividing, vocab_size < 1, ...) and
  // for runtime options not supported yet (check_llama_runtime_options).
  explicit LlamaForCausalLMImpl(const LlamaConfig& config, const LlamaRuntimeOptions& runtime_options = {});

  // Full sequences without cache: input_ids (B, T), attention_mask (B, T) (left or right
  // padding) -> logits (B, T, V) in the parameters' dtype.
  torch::Tensor forward(const torch::Tensor& input_ids, const torch::Tensor& attention_mask);
  // With explicit positions and an optional cache; shapes as LlamaModelImpl::forward -> (B, T, V).
  torch::Tensor forward(const torch::Tensor& input_ids, const torch::Tensor& attention_mask,
                        const torch::Tensor& position_ids, KVCache* cache);

  // hidden: (..., C) -> logits (..., V); lets callers project only the positions they need.
  torch::Tensor logits_from_hidden(const torch::Tensor& hidden);

  // normal(0, initializer_range) for embeddings and projections, ones for norms. Uses torch's
  // global generator: seed it first with torch::manual_seed.
  void reset_parameters();

  // An empty cache for `batch_size` rows of up to `max_length` slots, in the parameters' dtype
  // and device.
  KVCache make_kv_cache(std::int64_t batch_size, std::int64_t max_length) const;

  const LlamaConfig& config() const { return config_; }
  const LlamaRuntimeOptions& runtime_options() const { return model->runtime_options(); }
  torch::Device device() const;
  torch::Dtype dtype() const;

  LlamaModel model{nullptr};
  Projection lm_head{nullptr};  // null when tie_word_embeddings

 private:
  LlamaConfig config_;
};
TORCH_MODULE(LlamaForCausalLM);

// Throws InputError naming the key for configs this implementation cannot build.
void check_llama_config(const LlamaConfig& config);

// Throws InputError for runtime options declared for capabilities still to come (the sdpa
// kernel): refused, never silently ignored; and for LoRA adapters that name an unknown
// projection or have a rank, alpha or dropout out of range.
void check_llama_runtime_options(const LlamaRuntimeOptions& runtime_options);

}  // namespace selm
