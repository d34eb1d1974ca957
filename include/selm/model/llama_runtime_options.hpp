// Run-time options of a Llama: how the model computes, as opposed to what it is.
//
// LlamaConfig holds the hyper-parameters, which are saved with the weights in config.json.
// These options are never written there: the same checkpoint loads with any of them, and a
// later run may choose differently (llama.cpp's cparams beside its hparams). Each capability to
// come has its one field here: the attention kernel, activation checkpointing, LoRA adapters.
// The defaults are the model as it has always computed (with LibTorch 2.x, through torch's fused
// attention kernel); what this build cannot do is refused at model construction
// (check_llama_runtime_options, select_attention_kernel), never
// silently replaced by the default.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <torch/version.h>  // the version macros only

namespace selm {

// Which kernel computes softmax(q k^T / sqrt(D), masked) v.
enum class AttentionImplementation {
  eager,  // grouped_query_attention: explicit matmuls (sliced on the CPU), softmax in float32
  sdpa,   // torch's fused scaled_dot_product_attention (flash / memory-efficient on CUDA); LibTorch >= 2.0
};

// The kernel a model runs unless told otherwise: torch's fused one where this LibTorch has it,
// selm's own otherwise.
constexpr AttentionImplementation kDefaultAttention =
    TORCH_VERSION_MAJOR >= 2 ? AttentionImplementation::sdpa : AttentionImplementation::eager;

// "eager" or "sdpa", for messages.
inline const char* attention_implementation_name(AttentionImplementation implementation) {
  switch (implementation) {
    case AttentionImplementation::eager: return "eager";
    case AttentionImplementation::sdpa: return "sdpa";
  }
  return "unknown";
}

// LoRA adapters on the projections (Hugging Face PEFT's LoraConfig; lora.hpp, docs/lora.md):
// each targeted projection computes x W^T + (alpha / rank) B A dropout(x), with A (rank, in)
// and B (out, rank).
struct LoraAdapterSpec {
  std::int64_t rank = 8;      // PEFT's r
  double alpha = 8.0;         // PEFT's lora_alpha
  double dropout = 0.0;       // PEFT's lora_dropout, applied in training mode only
  // Projection names (q_proj, ..., down_proj, lm_head), "all-linear" already expanded.
  std::vector<std::string> target_modules = {"q_proj", "v_proj"};
  // Seed of A's initial values: the same seed gives the same adapters, whatever torch's global
  // generator holds (so a run resumed in a new process starts a round's adapters as before).
  std::int64_t init_seed = 0;

  double scaling() const { return alpha / static_cast<double>(rank); }
};

struct LlamaRuntimeOptions {
  AttentionImplementation attention = kDefaultAttention;  // attention kernel of every layer
  bool activation_checkpointing = false;  // recompute decoder blocks during backward (training passes)
  std::optional<LoraAdapterSpec> lora;    // adapters on the projections; none = plain weights
};

}  // namespace selm
