// What the training loop needs from a LanguageModel it trains: the checkpoint callbacks (its
// weights, LoRA adapters beside the base weights, and its tokenizer files) and the log line of
// what it trains. Shared by preference training and SFT.
#pragma once

#include <string>

#include "selm/model/language_model.hpp"
#include "selm/train/checkpoint.hpp"

namespace selm {

// Writes the checkpoint's model directory: the weights with the adapter factors alongside
// (llama_checkpoint.hpp AdapterWeights::alongside, so a resume is exact) and the tokenizer files.
SaveModelFunction checkpoint_model_saver(LanguageModel& lm, const std::string& chat_template);
// Loads what checkpoint_model_saver wrote back into lm.model.
LoadModelFunction checkpoint_model_loader(LanguageModel& lm);

// Logs how many parameters training updates ("trainable parameters: N of M (LoRA r 8 on
// q_proj, v_proj)") and returns N.
std::int64_t log_trainable_parameters(LlamaForCausalLM& model);

}  // namespace selm
