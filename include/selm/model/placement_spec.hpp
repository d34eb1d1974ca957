// The device and dtype settings of a model (model.device, model.dtype and the reward model's),
// as typed values without LibTorch; model/device.hpp turns them into LibTorch's types.
#pragma once

#include <optional>
#include <string>

#include "selm/config/enum_names.hpp"

namespace selm {

enum class DeviceKind { cpu, cuda };

// A device setting: "cpu", "cuda" (the first GPU) or "cuda:N".
struct DeviceSpec {
  DeviceKind kind = DeviceKind::cpu;
  std::optional<int> index;  // N of "cuda:N"; unset for "cpu" and "cuda"

  static constexpr const char* kChoices = "cpu, cuda or cuda:N";
  // nullopt for text that is none of kChoices.
  static std::optional<DeviceSpec> parse(const std::string& text);
  std::string text() const;
};

// Compute dtype of a model's weights and activations (half types need a GPU).
enum class ComputeDtype { float32, bfloat16, float16 };

template <>
struct EnumNames<ComputeDtype> {
  static constexpr EnumName<ComputeDtype> entries[] = {
      {ComputeDtype::float32, "float32"}, {ComputeDtype::bfloat16, "bfloat16"}, {ComputeDtype::float16, "float16"}};
};

}  // namespace selm
