#include "selm/train/sft_config.hpp"

namespace selm {

void SftConfig::validate(const FieldChecker& check) const {
  // The data files are checked when `selm sft` opens them (a missing train_file is named there),
  // so that `selm config` can print a config whose data does not exist yet.
  check.require(eval_file.empty() || eval_file != train_file, "eval_file",
                "must differ from sft.train_file (held-out data)");
}

}  // namespace selm
