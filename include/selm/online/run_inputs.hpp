// What `selm train` reads before it touches the run directory, checked as a whole: the
// enum-like online settings parsed once, the training prompts (parsed once) and the eval prompts.
#pragma once

#include <cstdint>
#include <vector>

#include "selm/config/config.hpp"
#include "selm/eval/evaluation.hpp"
#include "selm/online/pairing.hpp"
#include "selm/online/train_prompts.hpp"

namespace selm {

struct OnlineRunInputs {
  PairingStrategy pairing = PairingStrategy::selm;
  std::int64_t first_round = 1;        // 0 with online.offline_round0 (the offline round), else 1
  std::int64_t slices = 1;             // rounds that draw prompts: online.rounds, plus round 0
  std::vector<TrainPrompt> dataset;    // data.train_file, with its pairs when the run needs them
  std::vector<EvalPrompt> eval_prompts;  // data.eval_file (eval.enabled only)
};

// InputError naming the key or FILE:LINE for a missing or malformed input, for a dataset too
// small for the rounds, and for a round override that does not make a valid config.
OnlineRunInputs read_online_run_inputs(const Config& config);

}  // namespace selm
