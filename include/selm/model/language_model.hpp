// A model directory loaded for use: the Llama, its tokenizer and its chat formatting.
// Generation, scoring, training and evaluation all start from this bundle.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "selm/model/device.hpp"
#include "selm/model/llama.hpp"
#include "selm/model/llama_runtime_options.hpp"
#include "selm/model/model_settings.hpp"
#include "selm/text/chat_format.hpp"
#include "selm/text/tokenizer.hpp"
#include "selm/text/tokenizer_settings.hpp"

namespace selm {

struct LanguageModel {
  fs::path directory;
  Placement placement;
  LlamaForCausalLM model{nullptr};
  std::unique_ptr<Tokenizer> tokenizer;     // heap-held: the formatter points at it
  std::unique_ptr<ChatFormatter> formatter;
};

// Loads DIR's weights onto the configured device/dtype, the tokenizer (tokenizer.path, or DIR's
// tokenizer.model) and the chat template (tokenizer.chat_template); the model computes as
// `runtime_options` say. With model.adapter_path, the PEFT adapter there is loaded onto the
// model, unmerged, with the r, lora_alpha and target_modules of its adapter_config.json (when
// runtime_options.lora is set too, they must agree). Checks that the tokenizer's vocabulary
// fits the model's. Bad input is an InputError naming the file or key.
LanguageModel load_language_model(const fs::path& directory, const ModelSettings& model_settings,
                                  const TokenizerSettings& tokenizer_settings,
                                  const LlamaRuntimeOptions& runtime_options = {});

// Writes the model's weights, config.json and tokenizer files (with `chat_template`) into a
// staging directory beside `destination`, then renames it into place: `destination` is either
// absent, the old directory or the complete new one, never half-written.
void write_model_directory(const LanguageModel& lm, const fs::path& destination, const std::string& chat_template);

// What training leaves in OUTPUT_DIR: with LoRA adapters, first OUTPUT_DIR/adapter/ in PEFT's
// format (peft_adapter.hpp), then OUTPUT_DIR/model/ (write_model_directory) with the adapters
// merged into the weights. The model in memory is not changed.
void write_trained_model(const LanguageModel& lm, const fs::path& output_dir, const std::string& chat_template);

// Padding id for batches of this model: the tokenizer's pad id, else EOS (masked anyway).
std::int64_t pad_id_of(const LanguageModel& lm);

}  // namespace selm
