#include "selm/model/llama.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "selm/model/activation_checkpoint.hpp"
#include "selm/model/fused_ops.hpp"
#include "selm/model/lora.hpp"
#include "selm/util/error.hpp"

namespace selm {

#if TORCH_VERSION_MAJOR >= 2
// sdpa_attention.cpp: torch's scaled_dot_product_attention with grouped-query heads and the eager
// kernel's answer for queries that see no key. Shapes as grouped_query_attention.
torch::Tensor fused_grouped_query_attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                                            const torch::Tensor& allowed);
#endif

namespace {

void require(bool condition, const std::string& key, const std::string& message) {
  if (!condition) throw InputError("key '" + key + "': " + message);
}

// layer(x, cos, sin, allowed) with its activations recomputed in backward (activation_checkpoint.hpp).
// x: (B, T, C); cos, sin: (B, T, D); allowed: (B, 1, T, S) -> (B, T, C)
torch::Tensor checkpointed_decoder_layer(LlamaDecoderLayer layer, const torch::Tensor& x, torch::Tensor cos,
                                         torch::Tensor sin, torch::Tensor allowed) {
  const std::vector<torch::Tensor> parameters = layer->parameters();
  return checkpointed([layer, cos, sin, allowed](const torch::Tensor& input) mutable {
    return layer->forward(input, cos, sin, allowed);
  }, x, parameters);
}

// The adapter of the projection called `module` (q_proj, ..., lm_head), nullptr when it has none.
const LoraAdapterSpec* adapter_of(const LlamaRuntimeOptions& runtime_options, const std::string& module) {
  if (!runtime_options.lora) return nullptr;
  const auto& targets = runtime_options.lora->target_modules;
  return std::find(targets.begin(), targets.end(), module) != targets.end() ? &*runtime_options.lora : nullptr;
}

}  // namespace

void check_llama_config(const LlamaConfig& config) {
  require(config.vocab_size >= 1, "vocab_size", "must be at least 1 (take it from the tokenizer)");
  require(config.hidden_size >= 1, "hidden_size", "must be at least 1");
  require(config.intermediate_size >= 1, "intermediate_size", "must be at least 1");
  require(config.num_hidden_layers >= 1, "num_hidden_layers", "must be at least 1");
  require(config.num_attention_heads >= 1, "num_attention_heads", "must be at least 1");
  require(config.num_key_value_heads >= 1, "num_key_value_heads", "must be at least 1");
  require(config.num_attention_heads % config.num_key_value_heads == 0, "num_key_value_heads",
          "must divide num_attention_heads (" + std::to_string(config.num_attention_heads) + "), got " +
              std::to_string(config.num_key_value_heads));
  require(config.head_dim >= 0, "head_dim", "must be >= 0 (0 = hidden_size / num_attention_heads)");
  require(config.head_dim > 0 || config.hidden_size % config.num_attention_heads == 0, "hidden_size",
          "must be a multiple of num_attention_heads when head_dim is 0");
  require(config.resolved_head_dim() % 2 == 0, "head_dim", "must be even (rotary embedding pairs dimensions)");
  require(config.rms_norm_eps > 0.0, "rms_norm_eps", "must be positive");
  require(config.rope_theta > 0.0, "rope_theta", "must be positive");
  require(config.sliding_window >= 0, "sliding_window", "must be >= 0 (0 = full attention)");
  require(config.initializer_range >= 0.0, "initializer_range", "must be >= 0");
}

void check_llama_runtime_options(const LlamaRuntimeOptions& runtime_options) {
  if (runtime_options.lora.has_value()) check_lora_adapter_spec(*runtime_options.lora);
  select_attention_kernel(runtime_options.attention);
}

torch::Tensor position_ids_from_mask(const torch::Tensor& attention_mask, std::int64_t new_tokens) {
  const auto real = attention_mask.to(torch::kLong);
  const auto positions = (real.cumsum(-1) - 1).clamp_min(0);
  return positions.narrow(1, positions.size(1) - new_tokens, new_tokens);
}

torch::Tensor build_attention_allowed(const torch::Tensor& attention_mask, std::int64_t new_tokens,
                                      std::int64_t sliding_window) {
  const std::int64_t total = attention_mask.size(1);
  const auto device = attention_mask.device();
  const auto long_options = torch::TensorOptions().dtype(torch::kLong).device(device);
  const auto key_slots = torch::arange(total, long_options);                               // (S)
  const auto query_slots = torch::arange(total - new_tokens, total, long_options);         // (T)
  const auto causal = key_slots.unsqueeze(0) <= query_slots.unsqueeze(1);                  // (T, S)
  const auto key_is_real = attention_mask.to(torch::kBool);                                // (B, S)
  auto allowed = causal.unsqueeze(0).logical_and(key_is_real.unsqueeze(1));               // (B, T, S)
  if (sliding_window > 0) {
    // Distances in real-token positions, so that pads between or before real tokens do not
    // shrink the window.
    const auto key_positions = key_is_real.to(torch::kLong).cumsum(-1) - 1;               // (B, S)
    const auto query_positions = key_positions.narrow(1, total - new_tokens, new_tokens);  // (B, T)
    const auto distance = query_positions.unsqueeze(2) - key_positions.unsqueeze(1);       // (B, T, S)
    allowed = allowed.logical_and(distance < sliding_window);
  }
  return allowed.unsqueeze(1);
}

std::pair<torch::Tensor, torch::Tensor> rotary_cos_sin(const torch::Tensor& position_ids, std::int64_t head_dim,
                                                       double rope_theta) {
  const auto float_options = torch::TensorOptions().dtype(torch::kFloat).device(position_ids.device());
  // inv_freq[i] = theta^(-2i / D), as transformers computes it (float32).
  const auto exponents = torch::arange(0, head_dim, 2, float_options) / static_cast<double>(head_dim);
  const auto inv_freq = torch::pow(rope_theta, exponents).reciprocal();                    // (D/2)
  const auto angles = position_ids.to(torch::kFloat).unsqueeze(-1) * inv_freq;            // (B, T, D/2)
  const auto doubled = torch::cat({angles, angles}, -1);                                   // (B, T, D)
  return {doubled.cos(), doubled.sin()};
}

torch::Tensor apply_rotary(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin) {
  return rotary_embedding(x, cos, sin);
}

AttentionKernel select_attention_kernel(AttentionImplementation implementation) {
  switch (implementation) {
    case AttentionImplementation::eager: return &grouped_query_attention;
    case AttentionImplementation::sdpa:
#if TORCH_VERSION_MAJOR >= 2
      return &fused_grouped_query_attention;
#else
      break;
#endif
  }
  throw InputError(std::string("attention implementation '") + attention_implementation_name(implementation) +
                   "' needs LibTorch 2.0 or later (this build has " + TORCH_VERSION + ")");
}

// ---------------------------------------------------------------------------------------------

RMSNormImpl::RMSNormImpl(std::int64_t hidden_size, double eps) : eps_(eps) {
  weight = register_parameter("weight", torch::ones({hidden_size}));
}

torch::Tensor RMSNormImpl::forward(const torch::Tensor& x) { return rms_norm(x, weight, eps_); }

LlamaAttentionImpl::LlamaAttentionImpl(const LlamaConfig& config, std::int64_t layer_index,
                                       const LlamaRuntimeOptions& runtime_options)
    : attention_kernel_(select_attention_kernel(runtime_options.attention)),
      layer_index_(layer_index),
      num_heads_(config.num_attention_heads),
      num_kv_heads_(config.num_key_value_heads),
      head_dim_(config.resolved_head_dim()) {
  const auto& options = runtime_options;
  q_proj = register_module("q_proj", Projection(config.hidden_size, num_heads_ * head_dim_, adapter_of(options, "q_proj")));
  k_proj = register_module("k_proj", Projection(config.hidden_size, num_kv_heads_ * head_dim_, adapter_of(options, "k_proj")));
  v_proj = register_module("v_proj", Projection(config.hidden_size, num_kv_heads_ * head_dim_, adapter_of(options, "v_proj")));
  o_proj = register_module("o_proj", Projection(num_heads_ * head_dim_, config.hidden_size, adapter_of(options, "o_proj")));
}

torch::Tensor LlamaAttentionImpl::forward(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin,
                                          const torch::Tensor& allowed, KVCache* cache) {
  const std::int64_t batch = x.size(0), tokens = x.size(1);
  auto q = q_proj(x).view({batch, tokens, num_heads_, head_dim_}).transpose(1, 2);     // (B, H, T, D)
  auto k = k_proj(x).view({batch, tokens, num_kv_heads_, head_dim_}).transpose(1, 2);  // (B, n_kv, T, D)
  auto v = v_proj(x).view({batch, tokens, num_kv_heads_, head_dim_}).transpose(1, 2);  // (B, n_kv, T, D)
  q = apply_rotary(q, cos, sin);
  k = apply_rotary(k, cos, sin);
  if (cache != nullptr) std::tie(k, v) = cache->append(layer_index_, k, v);             // (B, n_kv, S, D)
  const auto attended = attention_kernel_(q, k, v, allowed);                             // (B, H, T, D)
  return o_proj(attended.transpose(1, 2).reshape({batch, tokens, num_heads_ * head_dim_}));
}

LlamaMLPImpl::LlamaMLPImpl(const LlamaConfig& config, const LlamaRuntimeOptions& runtime_options) {
  const auto& options = runtime_options;
  gate_proj = register_module("gate_proj",
                              Projection(config.hidden_size, config.intermediate_size, adapter_of(options, "gate_proj")));
  up_proj = register_module("up_proj",
                            Projection(config.hidden_size, config.intermediate_size, adapter_of(options, "up_proj")));
  down_proj = register_module("down_proj",
                              Projection(config.intermediate_size, config.hidden_size, adapter_of(options, "down_proj")));
}

torch::Tensor LlamaMLPImpl::forward(const torch::Tensor& x) {
  return down_proj(swiglu(gate_proj(x), up_proj(x)));
}

LlamaDecoderLayerImpl::LlamaDecoderLayerImpl(const LlamaConfig& config, std::int64_t layer_index,
                                             const LlamaRuntimeOptions& runtime_options) {
  self_attn = register_module("self_attn", LlamaAttention(config, layer_index, runtime_options));
  mlp = register_module("mlp", LlamaMLP(config, runtime_options));
  input_layernorm = register_module("input_layernorm", RMSNorm(config.hidden_size, config.rms_norm_eps));
  post_attention_layernorm =
      register_module("post_attention_layernorm", RMSNorm(config.hidden_size, config.rms_norm_eps));
}

torch::Tensor LlamaDecoderLayerImpl::forward(const torch::Tensor& x, const torch::Tensor& cos,
                                             const torch::Tensor& sin, const torch::Tensor& allowed,
                                             KVCache* cache) {
  const auto h = x + self_attn(input_layernorm(x), cos, sin, allowed, cache);
  return h + mlp(post_attention_layernorm(h));
}

LlamaModelImpl::LlamaModelImpl(const LlamaConfig& config, const LlamaRuntimeOptions& runtime_options)
    : config_(config), runtime_options_(runtime_options) {
  check_llama_config(config);
  check_llama_runtime_options(runtime_options);
  embed_tokens = register_module("embed_tokens", torch::nn::Embedding(config.vocab_size, config.hidden_size));
  layers = register_module("layers", torch::nn::ModuleList());
  for (std::int64_t index = 0; index < config.num_hidden_layers; ++index) {
    layer_modules_.emplace_back(config, index, runtime_options);
    layers->push_back(layer_modules_.back());
  }
  norm = register_module("norm", RMSNorm(config.hidden_size, config.rms_norm_eps));
}

torch::Tensor LlamaModelImpl::forward(const torch::Tensor& input_ids, const torch::Tensor& attention_mask,
                                      const torch::Tensor& position_ids, KVCache* cache) {
  const std::int64_t tokens = input_ids.size(1);
  const std::int64_t cached = cache != nullptr ? cache->length() : 0;
  if (input_ids.dim() != 2 || attention_mask.dim() != 2 || attention_mask.size(0) != input_ids.size(0) ||
      attention_mask.size(1) != cached + tokens) {
    throw std::invalid_argument("LlamaModel::forward: attention_mask must be (B, cached + T) = (" +
                                std::to_string(input_ids.size(0)) + ", " + std::to_string(cached + tokens) + ")");
  }
  const auto mask = attention_mask.to(input_ids.device());
  const auto positions = position_ids.defined() ? position_ids : position_ids_from_mask(mask, tokens);
  const auto allowed = build_attention_allowed(mask, tokens, config_.sliding_window);
  const auto [cos_table, sin_table] = rotary_cos_sin(positions, config_.resolved_head_dim(), config_.rope_theta);
  auto hidden = embed_tokens(input_ids);
  // Recomputing pays only where activations are kept for a backward; a cached pass is generation.
  const bool recompute = runtime_options_.activation_checkpointing && cache == nullptr && is_training() &&
                         torch::GradMode::is_enabled();
  for (auto& layer : layer_modules_) {
    hidden = recompute ? checkpointed_decoder_layer(layer, hidden, cos_table, sin_table, allowed)
                       : layer(hidden, cos_table, sin_table, allowed, cache);
  }
  if (cache != nullptr) cache->advance(tokens);
  return norm(hidden);
}

LlamaForCausalLMImpl::LlamaForCausalLMImpl(const LlamaConfig& config, const LlamaRuntimeOptions& runtime_options)
    : config_(config) {
  model = register_module("model", LlamaModel(config, runtime_options));
  if (config.tie_word_embeddings && adapter_of(runtime_options, "lm_head") != nullptr) {
    throw InputError("LoRA target 'lm_head': the model ties its embeddings (tie_word_embeddings), so it has no lm_head");
  }
  if (!config.tie_word_embeddings) {
    lm_head = register_module("lm_head",
                              Projection(config.hidden_size, config.vocab_size, adapter_of(runtime_options, "lm_head")));
  }
  reset_parameters();
  // PEFT trains the adapters only: the base weights are frozen from the start.
  if (runtime_options.lora) freeze_base_weights(*this);
}

torch::Tensor LlamaForCausalLMImpl::forward(const torch::Tensor& input_ids, const torch::Tensor& attention_mask) {
  return logits_from_hidden(model(input_ids, attention_mask));
}

torch::Tensor LlamaForCausalLMImpl::forward(const torch::Tensor& input_ids, const torch::Tensor& attention_mask,
                                            const torch::Tensor& position_ids, KVCache* cache) {
  return logits_from_hidden(model(input_ids, attention_mask, position_ids, cache));
}

torch::Tensor LlamaForCausalLMImpl::logits_from_hidden(const torch::Tensor& hidden) {
  if (config_.tie_word_embeddings) return torch::nn::functional::linear(hidden, model->embed_tokens->weight);
  return lm_head(hidden);
}

void LlamaForCausalLMImpl::reset_parameters() {
  torch::NoGradGuard no_grad;
  const double std_dev = config_.initializer_range;
  model->embed_tokens->weight.normal_(0.0, std_dev);
  for (auto& module : model->layers->children()) {
    auto layer = std::dynamic_pointer_cast<LlamaDecoderLayerImpl>(module);
    for (auto* projection : {&layer->self_attn->q_proj, &layer->self_attn->k_proj, &layer->self_attn->v_proj,
                             &layer->self_attn->o_proj, &layer->mlp->gate_proj, &layer->mlp->up_proj,
                             &layer->mlp->down_proj}) {
      (*projection)->weight.normal_(0.0, std_dev);
    }
    layer->input_layernorm->weight.fill_(1.0);
    layer->post_attention_layernorm->weight.fill_(1.0);
  }
  model->norm->weight.fill_(1.0);
  if (lm_head) lm_head->weight.normal_(0.0, std_dev);
  if (model->runtime_options().lora) reset_lora_adapters(*this, model->runtime_options().lora->init_seed);
}

KVCache LlamaForCausalLMImpl::make_kv_cache(std::int64_t batch_size, std::int64_t max_length) const {
  const auto& weight = model->embed_tokens->weight;
  return KVCache(config_.num_hidden_layers, batch_size, config_.num_key_value_heads, max_length,
                 config_.resolved_head_dim(), weight.options().requires_grad(false));
}

torch::Device LlamaForCausalLMImpl::device() const { return model->embed_tokens->weight.device(); }

torch::Dtype LlamaForCausalLMImpl::dtype() const { return model->embed_tokens->weight.scalar_type(); }

}  // namespace selm
