// A settings change that a config itself carries (online.round_overrides): one key set to one
// value, kept with the place it was written so that its errors name that place.
#pragma once

#include <string>
#include <vector>

namespace selm {

struct KeyOverride {
  std::string key;     // dotted key path, e.g. "train.learning_rate"
  std::string value;   // the value as YAML text, e.g. "1.0e-7", "[a, b]" or "\"Be brief: really.\""
  std::string origin;  // where it was written: "FILE:LINE" or "command-line override '...'"
};

// The changes of one round, applied in order.
using OverrideList = std::vector<KeyOverride>;

}  // namespace selm
