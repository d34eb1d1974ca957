#include "selm/model/model_settings.hpp"

namespace selm {

void ModelSettings::validate(const FieldChecker& check) const {
  check.require(device == "cpu" || device == "cuda" || device.rfind("cuda:", 0) == 0, "device",
                "must be cpu, cuda or cuda:N, got '" + device + "'");
  check.require(dtype == "float32" || dtype == "bfloat16" || dtype == "float16", "dtype",
                "must be float32, bfloat16 or float16, got '" + dtype + "'");
}

}  // namespace selm
