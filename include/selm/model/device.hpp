// Run-time placement of a model: the typed device and dtype settings (model/placement_spec.hpp)
// turned into LibTorch types, with the checks that need LibTorch (is CUDA there, is the GPU index
// in range, half types only on a GPU).
#pragma once

#include <string>

#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>

#include "selm/model/placement_spec.hpp"

namespace selm {

// Throws InputError naming `key` when CUDA is requested but not available (CPU-only LibTorch
// build, no GPU, or N out of range).
c10::Device torch_device(const DeviceSpec& device, const std::string& key = "model.device");

c10::ScalarType torch_dtype(ComputeDtype dtype);

// Both of the above, plus the pairing rule: half dtypes need a GPU (CPU runs in float32 only).
struct Placement {
  c10::Device device = c10::Device(c10::DeviceType::CPU);
  c10::ScalarType dtype = c10::ScalarType::Float;
};
Placement parse_placement(const DeviceSpec& device, ComputeDtype dtype, const std::string& device_key = "model.device",
                          const std::string& dtype_key = "model.dtype");

// The same from text, for command-line flags (--device, --dtype): "cpu", "cuda" or "cuda:N";
// "float32", "bfloat16" or "float16". Throws InputError naming `key` for any other text.
c10::Device parse_device(const std::string& text, const std::string& key = "model.device");
c10::ScalarType parse_dtype(const std::string& text, const std::string& key = "model.dtype");
Placement parse_placement(const std::string& device_text, const std::string& dtype_text,
                          const std::string& device_key = "model.device",
                          const std::string& dtype_key = "model.dtype");

// "float32", "bfloat16", "float16" (the inverse of parse_dtype; config.json's torch_dtype).
std::string dtype_name(c10::ScalarType dtype);

}  // namespace selm
