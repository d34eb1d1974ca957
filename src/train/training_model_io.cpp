#include "selm/train/training_model_io.hpp"

#include "selm/model/llama_checkpoint.hpp"
#include "selm/model/lora.hpp"
#include "selm/text/tokenizer_files.hpp"
#include "selm/util/log.hpp"

namespace selm {

SaveModelFunction checkpoint_model_saver(LanguageModel& lm, const std::string& chat_template) {
  return [&lm, chat_template](const fs::path& dir) {
    save_llama(lm.model, dir, kDefaultMaxShardBytes, AdapterWeights::alongside);
    write_tokenizer_files(*lm.tokenizer, dir, chat_template);
  };
}

LoadModelFunction checkpoint_model_loader(LanguageModel& lm) {
  return [&lm](const fs::path& dir) { load_llama_weights(lm.model, dir, AdapterWeights::alongside); };
}

std::int64_t log_trainable_parameters(LlamaForCausalLM& model) {
  const std::int64_t trainable = trainable_parameter_count(*model);
  std::int64_t total = 0;
  for (const auto& parameter : model->parameters()) total += parameter.numel();
  std::string line = "trainable parameters: " + std::to_string(trainable) + " of " + std::to_string(total);
  if (const auto& lora = model->runtime_options().lora) {
    std::string targets;
    for (const auto& target : lora->target_modules) targets += (targets.empty() ? "" : ", ") + target;
    line += " (LoRA r " + std::to_string(lora->rank) + " on " + targets + ")";
  }
  log::info(line);
  return trainable;
}

}  // namespace selm
