#include "selm/train/training_runtime_options.hpp"

namespace selm {

LlamaRuntimeOptions training_runtime_options(const TrainConfig& train) {
  LlamaRuntimeOptions options;
  // Only passes that record a graph recompute, so generation with the same model is unaffected.
  options.activation_checkpointing = train.gradient_checkpointing;
  return options;
}

}  // namespace selm
