#include "selm/model/device.hpp"

#include <torch/torch.h>

#include "selm/util/error.hpp"

namespace selm {

namespace {

DeviceSpec device_spec_from_text(const std::string& text, const std::string& key) {
  if (const std::optional<DeviceSpec> device = DeviceSpec::parse(text)) return *device;
  throw InputError("key '" + key + "': must be " + DeviceSpec::kChoices + ", got '" + text + "'");
}

}  // namespace

c10::Device torch_device(const DeviceSpec& device, const std::string& key) {
  if (device.kind == DeviceKind::cpu) return c10::Device(c10::DeviceType::CPU);
  if (!torch::cuda::is_available()) {
    throw InputError("key '" + key + "': '" + device.text() +
                     "' requested but CUDA is not available (CPU-only LibTorch build or no GPU visible)");
  }
  if (!device.index) return c10::Device(c10::DeviceType::CUDA, 0);
  const auto count = static_cast<int>(torch::cuda::device_count());
  if (*device.index >= count) {
    throw InputError("key '" + key + "': '" + device.text() + "' requested but only " + std::to_string(count) +
                     " CUDA device(s) are visible");
  }
  return c10::Device(c10::DeviceType::CUDA, static_cast<c10::DeviceIndex>(*device.index));
}

c10::ScalarType torch_dtype(ComputeDtype dtype) {
  switch (dtype) {
    case ComputeDtype::float32: return c10::ScalarType::Float;
    case ComputeDtype::bfloat16: return c10::ScalarType::BFloat16;
    case ComputeDtype::float16: return c10::ScalarType::Half;
  }
  throw std::invalid_argument("torch_dtype: not a ComputeDtype");
}

Placement parse_placement(const DeviceSpec& device, ComputeDtype dtype, const std::string& device_key,
                          const std::string& dtype_key) {
  Placement placement;
  placement.dtype = torch_dtype(dtype);
  placement.device = torch_device(device, device_key);
  // CPU kernels for half types are partial and slow in LibTorch 1.13; keep CPU runs in float32.
  if (placement.device.is_cpu() && placement.dtype != c10::ScalarType::Float) {
    throw InputError("key '" + dtype_key + "': " + enum_name(dtype) + " needs a GPU; use float32 with " + device_key +
                     "=cpu");
  }
  return placement;
}

c10::Device parse_device(const std::string& text, const std::string& key) {
  return torch_device(device_spec_from_text(text, key), key);
}

c10::ScalarType parse_dtype(const std::string& text, const std::string& key) {
  return torch_dtype(parse_enum<ComputeDtype>(text, key));
}

Placement parse_placement(const std::string& device_text, const std::string& dtype_text, const std::string& device_key,
                          const std::string& dtype_key) {
  // The dtype first, as the typed overload checks it first.
  const ComputeDtype dtype = parse_enum<ComputeDtype>(dtype_text, dtype_key);
  return parse_placement(device_spec_from_text(device_text, device_key), dtype, device_key, dtype_key);
}

std::string dtype_name(c10::ScalarType dtype) {
  switch (dtype) {
    case c10::ScalarType::Float: return "float32";
    case c10::ScalarType::BFloat16: return "bfloat16";
    case c10::ScalarType::Half: return "float16";
    default: throw std::invalid_argument(std::string("dtype_name: unsupported dtype ") + c10::toString(dtype));
  }
}

}  // namespace selm
