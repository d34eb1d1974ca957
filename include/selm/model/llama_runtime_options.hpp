// Run-time options of a Llama: how the model computes, as opposed to what it is.
//
// LlamaConfig holds the hyper-parameters, which are saved with the weights in config.json.
// These options are never written there: the same checkpoint loads with any of them, and a
// later run may choose differently (llama.cpp's cparams beside its hparams). Each capability to
// come has its one field here: the attention kernel, activation checkpointing, LoRA adapters.
// The defaults are the model as it has always computed; whatever is not implemented yet is
// refused at model construction (check_llama_runtime_options, select_attention_kernel), never
// silently replaced by the default.
#pragma once

#include <optional>

namespace selm {

// Which kernel computes softmax(q k^T / sqrt(D), masked) v.
enum class AttentionImplementation {
  eager,  // grouped_query_attention: explicit matmuls, softmax in float32 (the one implemented)
  sdpa,   // torch's fused scaled_dot_product_attention: reserved, refused until implemented
};

// "eager" or "sdpa", for messages.
inline const char* attention_implementation_name(AttentionImplementation implementation) {
  switch (implementation) {
    case AttentionImplementation::eager: return "eager";
    case AttentionImplementation::sdpa: return "sdpa";
  }
  return "unknown";
}

// Where the LoRA adapters of the projections will be described (rank, alpha, target modules).
// It has no fields yet, and a model asked to carry one is refused.
struct LoraAdapterSpec {};

struct LlamaRuntimeOptions {
  AttentionImplementation attention = AttentionImplementation::eager;  // attention kernel of every layer
  bool activation_checkpointing = false;  // recompute decoder blocks during backward (training passes)
  std::optional<LoraAdapterSpec> lora;    // adapters on the projections; none = plain weights
};

}  // namespace selm
