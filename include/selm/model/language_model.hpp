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
// `runtime_options` say. Checks that the tokenizer's vocabulary fits the model's. Bad input is
// an InputError naming the file or key.
LanguageModel load_language_model(const fs::path& directory, const ModelSettings& model_settings,
                                  const TokenizerSettings& tokenizer_settings,
                                  const LlamaRuntimeOptions& runtime_options = {});

// Writes the model's weights, config.json and tokenizer files (with `chat_template`) into a
// staging directory beside `destination`, then renames it into place: `destination` is either
// absent, the old directory or the complete new one, never half-written.
void write_model_directory(const LanguageModel& lm, const fs::path& destination, const std::string& chat_template);

// Padding id for batches of this model: the tokenizer's pad id, else EOS (masked anyway).
std::int64_t pad_id_of(const LanguageModel& lm);

}  // namespace selm
