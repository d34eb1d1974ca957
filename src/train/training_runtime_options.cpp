#include "selm/train/training_runtime_options.hpp"

namespace selm {

LlamaRuntimeOptions training_runtime_options(const TrainConfig& train) {
  LlamaRuntimeOptions options;
  // Only passes that record a graph recompute, so generation with the same model is unaffected.
  options.activation_checkpointing = train.gradient_checkpointing;
  // LoRA adapters when train.lora.rank > 0, initialised from train.seed.
  options.lora = lora_adapter_spec(train.lora, train.seed);
  return options;
}

}  // namespace selm
