#include "selm/model/language_model.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdio>

#include "selm/model/hf_model_dir.hpp"
#include "selm/model/llama_checkpoint.hpp"
#include "selm/model/lora.hpp"
#include "selm/model/peft_adapter.hpp"
#include "selm/run/run_paths.hpp"
#include "selm/text/tokenizer_files.hpp"
#include "selm/util/error.hpp"

namespace selm {

namespace {

std::string adapter_text(const LoraAdapterSpec& spec) {
  std::string targets;
  for (const auto& target : spec.target_modules) targets += (targets.empty() ? "" : ", ") + target;
  char numbers[96];
  std::snprintf(numbers, sizeof(numbers), "r %lld, lora_alpha %g", static_cast<long long>(spec.rank), spec.alpha);
  return std::string(numbers) + ", target_modules [" + targets + "]";
}

// The adapter of DIR/adapter_config.json; when training asks for adapters too (`requested`),
// they must have its shape, and keep training's dropout and seed.
LoraAdapterSpec adapter_to_load(const fs::path& adapter_dir, const std::optional<LoraAdapterSpec>& requested) {
  LoraAdapterSpec stored = read_peft_adapter_config(adapter_dir);
  if (!requested) return stored;
  if (stored.rank != requested->rank || stored.alpha != requested->alpha ||
      stored.target_modules != requested->target_modules) {
    throw InputError((adapter_dir / run_files::kAdapterConfig).string() + " (key 'model.adapter_path'): the adapter (" +
                     adapter_text(stored) + ") disagrees with train.lora (" + adapter_text(*requested) + ")");
  }
  stored.dropout = requested->dropout;
  stored.init_seed = requested->init_seed;
  return stored;
}

}  // namespace

LanguageModel load_language_model(const fs::path& directory, const ModelSettings& model_settings,
                                  const TokenizerSettings& tokenizer_settings,
                                  const LlamaRuntimeOptions& runtime_options) {
  if (directory.empty()) throw InputError("key 'model.path': no model directory given");
  LanguageModel loaded;
  loaded.directory = directory;
  loaded.placement = parse_placement(model_settings.device, model_settings.dtype);
  // The tokenizer first: it is cheap and its errors are the likelier ones.
  const fs::path tokenizer_path = tokenizer_settings.path.empty() ? directory : fs::path(tokenizer_settings.path);
  loaded.tokenizer = load_tokenizer(tokenizer_path);
  ChatTemplate chat_template = ChatTemplate::from_name(tokenizer_settings.chat_template, *loaded.tokenizer);
  loaded.formatter = std::make_unique<ChatFormatter>(*loaded.tokenizer, std::move(chat_template),
                                                     tokenizer_settings.system_prompt);
  const fs::path adapter_dir = model_settings.adapter_path;
  LlamaRuntimeOptions options = runtime_options;
  if (!adapter_dir.empty()) options.lora = adapter_to_load(adapter_dir, runtime_options.lora);
  loaded.model = load_llama(directory, loaded.placement, options);
  if (!adapter_dir.empty()) load_peft_adapter(*loaded.model, adapter_dir);
  loaded.formatter->add_stop_ids(read_end_token_ids(directory));
  const std::int64_t model_vocab = loaded.model->config().vocab_size;
  if (loaded.tokenizer->vocab_size() > model_vocab) {
    throw InputError(loaded.tokenizer->model_path().string() + ": the tokenizer has " +
                     std::to_string(loaded.tokenizer->vocab_size()) + " pieces but " +
                     (directory / "config.json").string() + " has vocab_size " + std::to_string(model_vocab));
  }
  return loaded;
}

void write_model_directory(const LanguageModel& lm, const fs::path& destination, const std::string& chat_template) {
  const fs::path staging = destination.string() + ".tmp-" + std::to_string(::getpid());
  fs::remove_all(staging);
  LlamaForCausalLM model = lm.model;  // shares the module
  save_llama(model, staging);
  write_tokenizer_files(*lm.tokenizer, staging, chat_template);
  fs::remove_all(destination);
  fs::rename(staging, destination);
}

void write_trained_model(const LanguageModel& lm, const fs::path& output_dir, const std::string& chat_template) {
  LlamaForCausalLM model = lm.model;  // shares the module
  const auto& lora = model->runtime_options().lora;
  if (lora) save_peft_adapter(*model, *lora, output_dir / run_files::kAdapterDir, lm.directory.string());
  write_model_directory(lm, output_dir / run_files::kModelDir, chat_template);
}

std::int64_t pad_id_of(const LanguageModel& lm) {
  return lm.tokenizer->pad_id().value_or(std::max<std::int64_t>(0, lm.tokenizer->eos_id()));
}

}  // namespace selm
