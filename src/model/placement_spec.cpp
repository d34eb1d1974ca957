#include "selm/model/placement_spec.hpp"

#include <algorithm>
#include <cctype>

namespace selm {

std::optional<DeviceSpec> DeviceSpec::parse(const std::string& text) {
  if (text == "cpu") return DeviceSpec{};
  if (text == "cuda") return DeviceSpec{DeviceKind::cuda, std::nullopt};
  // "cuda:N" with N of 1 to 3 digits.
  const std::string prefix = "cuda:";
  if (text.rfind(prefix, 0) != 0) return std::nullopt;
  const std::string digits = text.substr(prefix.size());
  const bool all_digits = !digits.empty() && std::all_of(digits.begin(), digits.end(), [](unsigned char c) {
    return std::isdigit(c) != 0;
  });
  if (!all_digits || digits.size() > 3) return std::nullopt;
  return DeviceSpec{DeviceKind::cuda, std::stoi(digits)};
}

std::string DeviceSpec::text() const {
  if (kind == DeviceKind::cpu) return "cpu";
  return index ? "cuda:" + std::to_string(*index) : "cuda";
}

}  // namespace selm
