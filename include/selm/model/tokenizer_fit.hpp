// Fitting a new model's architecture to the tokenizer that will drive it.
#pragma once

#include "selm/config/field_checker.hpp"
#include "selm/model/llama_config.hpp"

namespace selm {

class Tokenizer;

// The architecture with the tokenizer's vocabulary and special-token ids, stored as float32 (a
// freshly initialised model). vocab_size 0 takes the tokenizer's size; a smaller, non-zero size is
// an InputError naming `check`'s vocab_size key, as are inconsistent values (see validate()).
LlamaConfig fit_to_tokenizer(LlamaConfig architecture, const Tokenizer& tokenizer, const FieldChecker& check);

}  // namespace selm
