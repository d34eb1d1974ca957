// Which preference loss trains the policy (train.loss); the formulas are in train/losses.hpp.
#pragma once

#include "selm/config/enum_names.hpp"

namespace selm {

enum class PreferenceLossType { selm, dpo, ipo, hinge };

template <>
struct EnumNames<PreferenceLossType> {
  static constexpr EnumName<PreferenceLossType> entries[] = {{PreferenceLossType::selm, "selm"},
                                                              {PreferenceLossType::dpo, "dpo"},
                                                              {PreferenceLossType::ipo, "ipo"},
                                                              {PreferenceLossType::hinge, "hinge"}};
  static constexpr const char* noun = "loss";
};

}  // namespace selm
