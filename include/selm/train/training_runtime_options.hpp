// How a model that is about to be trained computes: the run-time options that the train section
// decides (train.gradient_checkpointing, train.lora), for the commands that load a model to train it.
#pragma once

#include "selm/model/llama_runtime_options.hpp"
#include "selm/train/train_config.hpp"

namespace selm {

LlamaRuntimeOptions training_runtime_options(const TrainConfig& train);

}  // namespace selm
