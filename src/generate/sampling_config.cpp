#include "selm/generate/sampling_config.hpp"

namespace selm {

void SamplingConfig::validate(const FieldChecker& check) const { (void)check; }

}  // namespace selm
