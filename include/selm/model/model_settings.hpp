// Which model a command loads and where it runs: the `model` section of the config.
#pragma once

#include <string>

#include "selm/model/placement_spec.hpp"

namespace selm {

// Which model to load and where to run it. The device and dtype are parsed (and so checked) by
// the config system; no validator is needed.
struct ModelSettings {
  std::string path;                            // Hugging Face model directory
  DeviceSpec device;                           // cpu, cuda, cuda:N
  ComputeDtype dtype = ComputeDtype::float32;  // half types need a GPU
  std::string adapter_path;                    // PEFT LoRA adapter directory loaded onto the model; empty = none

  template <class Visitor>
  void visit_fields(Visitor& v) {
    v.field("path", path, "Hugging Face model directory (config.json + model.safetensors)");
    v.field("device", device, "Device: cpu, cuda or cuda:N");
    v.field("dtype", dtype, "Compute dtype: float32, bfloat16 or float16");
    v.field("adapter_path", adapter_path,
            "PEFT LoRA adapter directory (adapter_config.json + adapter_model.safetensors) loaded onto the "
            "model, unmerged; empty = none");
  }
};

}  // namespace selm
