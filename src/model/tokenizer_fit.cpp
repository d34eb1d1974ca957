#include "selm/model/tokenizer_fit.hpp"

#include <string>

#include "selm/text/tokenizer.hpp"

namespace selm {

LlamaConfig fit_to_tokenizer(LlamaConfig architecture, const Tokenizer& tokenizer, const FieldChecker& check) {
  const std::int64_t tokenizer_vocab = tokenizer.vocab_size();
  if (architecture.vocab_size == 0) architecture.vocab_size = tokenizer_vocab;
  check.require(architecture.vocab_size >= tokenizer_vocab, "vocab_size",
                std::to_string(architecture.vocab_size) + " is smaller than the tokenizer's " +
                    std::to_string(tokenizer_vocab) + " pieces");
  // Tokenizers without BOS/EOS keep the architecture's ids; the pad id follows the tokenizer
  // either way, so that an unset pad stays unset in config.json.
  if (tokenizer.bos_id() >= 0) architecture.bos_token_id = tokenizer.bos_id();
  if (tokenizer.eos_id() >= 0) architecture.eos_token_id = tokenizer.eos_id();
  architecture.pad_token_id = tokenizer.pad_id();
  architecture.torch_dtype = "float32";
  architecture.validate(check);
  return architecture;
}

}  // namespace selm
