#include "selm/model/device.hpp"

#include <torch/torch.h>

#include "selm/util/error.hpp"

namespace selm {

namespace {

bool all_digits(const std::string& text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), [](unsigned char c) { return std::isdigit(c) != 0; });
}

}  // namespace

c10::Device parse_device(const std::string& text, const std::string& key) {
  if (text == "cpu") return c10::Device(c10::DeviceType::CPU);
  const bool bare_cuda = text == "cuda";
  const bool indexed_cuda = text.rfind("cuda:", 0) == 0 && all_digits(text.substr(5)) && text.size() <= 8;
  if (!bare_cuda && !indexed_cuda) {
    throw InputError("key '" + key + "': must be cpu, cuda or cuda:N, got '" + text + "'");
  }
  if (!torch::cuda::is_available()) {
    throw InputError("key '" + key + "': '" + text +
                     "' requested but CUDA is not available (CPU-only LibTorch build or no GPU visible)");
  }
  if (bare_cuda) return c10::Device(c10::DeviceType::CUDA, 0);
  const int index = std::stoi(text.substr(5));
  const auto count = static_cast<int>(torch::cuda::device_count());
  if (index >= count) {
    throw InputError("key '" + key + "': '" + text + "' requested but only " + std::to_string(count) +
                     " CUDA device(s) are visible");
  }
  return c10::Device(c10::DeviceType::CUDA, static_cast<c10::DeviceIndex>(index));
}

c10::ScalarType parse_dtype(const std::string& text, const std::string& key) {
  if (text == "float32") return c10::ScalarType::Float;
  if (text == "bfloat16") return c10::ScalarType::BFloat16;
  if (text == "float16") return c10::ScalarType::Half;
  throw InputError("key '" + key + "': must be float32, bfloat16 or float16, got '" + text + "'");
}

Placement parse_placement(const std::string& device_text, const std::string& dtype_text,
                          const std::string& device_key, const std::string& dtype_key) {
  Placement placement;
  placement.dtype = parse_dtype(dtype_text, dtype_key);
  placement.device = parse_device(device_text, device_key);
  // CPU kernels for half types are partial and slow in LibTorch 1.13; keep CPU runs in float32.
  if (placement.device.is_cpu() && placement.dtype != c10::ScalarType::Float) {
    throw InputError("key '" + dtype_key + "': " + dtype_text + " needs a GPU; use float32 with " + device_key +
                     "=cpu");
  }
  return placement;
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
