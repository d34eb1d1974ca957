// Which model a command loads and where it runs: the `model` section of the config.
#pragma once

#include <string>

#include "selm/config/field_checker.hpp"

namespace selm {

// Which model to load and where to run it.
struct ModelSettings {
  std::string path;                // Hugging Face model directory
  std::string device = "cpu";      // cpu, cuda, cuda:N
  std::string dtype = "float32";   // float32, bfloat16 or float16 (half types need a GPU)

  template <class Visitor>
  void visit_fields(Visitor& v) {
    v.field("path", path, "Hugging Face model directory (config.json + model.safetensors)");
    v.field("device", device, "Device: cpu, cuda or cuda:N");
    v.field("dtype", dtype, "Compute dtype: float32, bfloat16 or float16");
  }
  void validate(const FieldChecker& check) const;
};

}  // namespace selm
