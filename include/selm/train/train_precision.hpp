// The number format training computes in (train.precision); what each keeps in float32 is in
// train/training_precision.hpp and docs/precision.md.
#pragma once

#include "selm/config/enum_names.hpp"

namespace selm {

enum class TrainPrecision {
  fp32,        // everything in float32
  bf16_mixed,  // float32 weights and AdamW moments; forward and backward in bfloat16 (autocast)
  bf16,        // weights, gradients and AdamW moments in bfloat16
};

template <>
struct EnumNames<TrainPrecision> {
  static constexpr EnumName<TrainPrecision> entries[] = {{TrainPrecision::fp32, "fp32"},
                                                          {TrainPrecision::bf16_mixed, "bf16_mixed"},
                                                          {TrainPrecision::bf16, "bf16"}};
  static constexpr const char* noun = "precision";
};

}  // namespace selm
