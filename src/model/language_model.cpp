#include "selm/model/language_model.hpp"

#include "selm/model/llama_checkpoint.hpp"
#include "selm/util/error.hpp"

namespace selm {

LanguageModel load_language_model(const fs::path& directory, const ModelSettings& model_settings,
                                  const TokenizerSettings& tokenizer_settings) {
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
  loaded.model = load_llama(directory, loaded.placement);
  const std::int64_t model_vocab = loaded.model->config().vocab_size;
  if (loaded.tokenizer->vocab_size() > model_vocab) {
    throw InputError(loaded.tokenizer->model_path().string() + ": the tokenizer has " +
                     std::to_string(loaded.tokenizer->vocab_size()) + " pieces but " +
                     (directory / "config.json").string() + " has vocab_size " + std::to_string(model_vocab));
  }
  return loaded;
}

}  // namespace selm
