#include "selm/model/language_model.hpp"

#include <unistd.h>

#include <algorithm>

#include "selm/model/hf_model_dir.hpp"
#include "selm/model/llama_checkpoint.hpp"
#include "selm/text/tokenizer_files.hpp"
#include "selm/util/error.hpp"

namespace selm {

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
  loaded.model = load_llama(directory, loaded.placement, runtime_options);
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

std::int64_t pad_id_of(const LanguageModel& lm) {
  return lm.tokenizer->pad_id().value_or(std::max<std::int64_t>(0, lm.tokenizer->eos_id()));
}

}  // namespace selm
