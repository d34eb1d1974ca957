// One micro-batch of preference training: a single policy forward over chosen, rejected and
// (when the loss needs it) y_ref rows, the reference log-probs from the records (or, for
// comparison, from a reference model kept in memory), the loss and its metrics.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "selm/data/records.hpp"
#include "selm/model/llama.hpp"
#include "selm/train/losses.hpp"
#include "selm/train/sequence_logps.hpp"
#include "selm/train/train_config.hpp"
#include "selm/train/training_loop.hpp"

namespace selm {

// The loss options of a train config (InputError naming train.loss for an unknown loss).
PreferenceLossOptions preference_loss_options(const TrainConfig& config);

// True when the loss reads y_ref log-probs (selm with alpha != 0).
bool loss_uses_reference_response(const PreferenceLossOptions& options);

// The log-probs and loss of one batch.
struct PreferenceBatchResult {
  PreferenceLogps logps;
  PreferenceLossResult loss;
  std::int64_t num_tokens = 0;  // real tokens of the forward pass
};

// `examples[i]` and `records[i]` describe the same pair. Reference log-probs come from
// records[i].reference_logps, or from `reference_model` when it is not null (then computed in
// this call under a NoGradGuard, on the same rows). InputError naming the record's line when a
// needed reference log-prob or y_ref is missing.
PreferenceBatchResult preference_batch(LlamaForCausalLM& policy, const std::vector<const TokenizedPreference*>& examples,
                                       const std::vector<const PreferenceRecord*>& records,
                                       const PreferenceLossOptions& options, std::int64_t pad_id, bool average_logps,
                                       LlamaForCausalLM* reference_model = nullptr);

// The metrics map of the training loop: "loss", "rewards/chosen", "rewards/rejected",
// "rewards/accuracies", "rewards/margins", "logps/chosen", "logps/rejected", and with y_ref
// "logps/pi_response" and "logps/ref_response".
std::map<std::string, double> preference_metric_map(const PreferenceBatchResult& result);

// The training loop's step function of preference training, as `selm dpo`, every online round
// and `selm bench train` run it: preference_batch over the examples and records at the given
// indices, returning its loss, preference_metric_map and token count. `policy`, `examples`,
// `records` and `reference_model` must outlive the returned function.
StepFunction preference_step_function(LlamaForCausalLM& policy, const std::vector<TokenizedPreference>& examples,
                                      const std::vector<PreferenceRecord>& records, const PreferenceLossOptions& options,
                                      std::int64_t pad_id, bool average_logps,
                                      LlamaForCausalLM* reference_model = nullptr);

}  // namespace selm
