// online.pairing: what a round's judged candidates are (online/pairing.hpp has the rules).
//   selm        the new response with the dataset's chosen and rejected
//   best_worst  generate.num_samples samples of the policy
#pragma once

#include "selm/config/enum_names.hpp"

namespace selm {

enum class PairingStrategy { selm, best_worst };

template <>
struct EnumNames<PairingStrategy> {
  static constexpr EnumName<PairingStrategy> entries[] = {{PairingStrategy::selm, "selm"},
                                                           {PairingStrategy::best_worst, "best_worst"}};
};

}  // namespace selm
