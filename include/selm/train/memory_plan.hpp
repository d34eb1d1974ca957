// The expected peak memory of a run on one device, part by part, before anything is allocated.
//
// `selm plan` prints it and `selm train` checks it at start. Everything here is closed-form
// arithmetic over the architecture and the run's settings: no tensor is created, so a plan for a
// 7B model runs on any machine in milliseconds.
//
// What is counted, per device (data parallelism replicates everything but the data):
//   weights      every parameter in its storage dtype (LoRA adapters included)
//   gradients    one per trainable parameter, in the trainable parameters' dtype
//   optimiser    AdamW's two moments per trainable parameter (fp32 unless pure bf16), and under
//                bf16_mixed the bf16 copies of the trainable weights that autocast keeps during
//                a forward pass
//   activations  what autograd keeps for backward, for the micro-batch's rows at max_length,
//                with or without activation checkpointing, plus the logits of the response
//                positions and the working memory of backward
//   KV cache     generation's key/value cache at generate.batch_size rows of
//                max_prompt_length + max_new_tokens slots, and its logits
//   judge        a reward model on the same device: its weights and one scoring pass
//   runtime      what the process holds besides tensors (code, allocator, CUDA context)
// A run's phases do not overlap: the peak is the largest phase, each phase being the weights
// plus what that phase adds.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "selm/model/llama_config.hpp"

namespace selm {

// Where the tensors live; it decides the attention kernel's memory and the runtime overhead.
enum class PlanDevice { cpu, cuda };

// The attention kernel's memory for backward.
enum class PlanAttention {
  sliced,    // the CPU fp32 kernel: keeps q, k, v and recomputes probabilities in backward
  composed,  // explicit matmuls and softmax: keeps the (rows, H, T, T) probabilities
  fused,     // scaled_dot_product_attention's flash / memory-efficient kernels: O(T) per head
};

// The kernel the model runs for `device`: the fused one on CUDA with LibTorch >= 2.0, the sliced
// CPU kernel for float32 on the CPU, the composed ops otherwise.
PlanAttention attention_for(PlanDevice device, bool float32_compute);

struct LoraPlan {
  std::int64_t rank = 0;                    // 0 = no adapters
  std::vector<std::string> target_modules;  // q_proj ... down_proj, lm_head (already expanded)
  bool dropout = false;                     // dropout on the adapters' input keeps a mask and a copy
};

struct LoraConfig;
// The adapters train.lora asks for (all-linear expanded); rank 0 when it is off.
LoraPlan lora_plan(const LoraConfig& lora);

struct MemoryPlanInputs {
  LlamaConfig model;
  PlanDevice device = PlanDevice::cpu;
  PlanAttention attention = PlanAttention::sliced;
  std::int64_t weight_bytes = 4;         // per parameter as stored (4 fp32, 2 bf16)
  std::int64_t trainable_bytes = 4;      // per trainable parameter, gradient and moments (4, or 2 in pure bf16)
  bool autocast_bf16 = false;            // bf16_mixed: activations in bf16, bf16 weight copies cached
  LoraPlan lora;
  bool gradient_checkpointing = false;
  std::int64_t train_batch_size = 8;     // examples per micro-batch on one device
  std::int64_t rows_per_example = 3;     // chosen, rejected and y_ref (2 without y_ref)
  std::int64_t max_length = 1024;        // prompt + response tokens of a row
  std::int64_t max_prompt_length = 512;  // of a training row
  std::int64_t generate_batch_size = 16;
  std::int64_t generate_prompt_length = 512;
  std::int64_t max_new_tokens = 128;
  std::int64_t generate_bytes = 4;       // generation's compute dtype
  bool evaluation_loads_reference = false;  // the KL estimate loads a second model (full fine-tuning)
  std::optional<LlamaConfig> reward_model;  // a reward-model judge on the same device
  std::int64_t reward_model_bytes = 4;
  std::int64_t reward_batch_size = 16;
  std::int64_t reward_length = 640;      // prompt + response tokens the reward model scores
  std::int64_t world_size = 1;           // ranks of data parallelism (global batch = world_size * batch)
  bool shard_optimizer_state = false;    // ZeRO-1: the AdamW moments are split over the ranks
};

struct MemoryPart {
  std::string name;     // "weights", "gradients", ...
  std::int64_t bytes = 0;
  std::string detail;   // what it is made of, for the printout
};

struct MemoryPhase {
  std::string name;     // generation, judging, training, evaluation
  std::int64_t bytes = 0;
};

struct MemoryPlan {
  std::int64_t parameters = 0;            // all parameters, adapters included
  std::int64_t trainable_parameters = 0;
  std::vector<MemoryPart> parts;          // in printing order
  std::vector<MemoryPhase> phases;
  std::int64_t peak_bytes = 0;            // the largest phase
  std::string peak_phase;
  std::int64_t activations_without_checkpointing = 0;  // both, whichever the plan uses
  std::int64_t activations_with_checkpointing = 0;

  const MemoryPart& part(const std::string& name) const;  // throws std::out_of_range
};

// Parameters of the model (embedding, blocks, norms, lm_head unless tied).
std::int64_t llama_parameter_count(const LlamaConfig& model);
// LoRA parameters: rank * (in + out) per target module, summed over the layers.
std::int64_t lora_parameter_count(const LlamaConfig& model, const LoraPlan& lora);

MemoryPlan plan_memory(const MemoryPlanInputs& inputs);

// A change to the settings that would shrink the peak, and the peak it would give.
struct MemorySuggestion {
  std::string setting;  // e.g. "train.gradient_checkpointing=true"
  std::int64_t peak_bytes = 0;
};
// The single-setting changes that lower the peak (LoRA, checkpointing, smaller batches),
// smallest peak first.
std::vector<MemorySuggestion> memory_suggestions(const MemoryPlanInputs& inputs);

// "12.34 GiB" / "512.0 MiB".
std::string format_bytes(std::int64_t bytes);
// Parses "80GiB", "80 GB", "81920MiB", "1.5TiB" or a plain byte count; InputError naming `what`.
std::int64_t parse_memory_size(const std::string& text, const std::string& what);

}  // namespace selm
