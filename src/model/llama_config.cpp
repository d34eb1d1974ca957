#include "selm/model/llama_config.hpp"

namespace selm {

void LlamaConfig::validate(const FieldChecker& check) const { (void)check; }

}  // namespace selm
