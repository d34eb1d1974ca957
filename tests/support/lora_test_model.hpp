// The small Llama the LoRA tests adapt, and the options that give it adapters.
//   hidden 32, 4 heads of 8, 2 kv heads, 2 layers: q_proj and o_proj are 32 -> 32, k_proj and
//   v_proj 32 -> 16, gate_proj and up_proj 32 -> 48, down_proj 48 -> 32, lm_head 32 -> 61.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "selm/model/llama_config.hpp"
#include "selm/model/llama_runtime_options.hpp"

namespace selm::test {

inline LlamaConfig lora_test_config() {
  LlamaConfig config;
  config.vocab_size = 61;
  config.hidden_size = 32;
  config.intermediate_size = 48;
  config.num_hidden_layers = 2;
  config.num_attention_heads = 4;
  config.num_key_value_heads = 2;
  config.max_position_embeddings = 32;
  config.initializer_range = 0.2;
  return config;
}

inline LlamaRuntimeOptions lora_test_options(std::int64_t rank, double alpha, std::vector<std::string> targets) {
  LlamaRuntimeOptions options;
  options.lora = LoraAdapterSpec{};
  options.lora->rank = rank;
  options.lora->alpha = alpha;
  options.lora->target_modules = std::move(targets);
  options.lora->init_seed = 7;
  return options;
}

}  // namespace selm::test
