#include "selm/train/preference_step.hpp"

#include <torch/torch.h>

#include "selm/util/error.hpp"

namespace selm {

PreferenceLossOptions preference_loss_options(const TrainConfig& config) {
  PreferenceLossOptions options;
  options.type = config.loss;
  options.beta = config.beta;
  options.alpha = config.alpha;
  options.label_smoothing = config.label_smoothing;
  options.nll_weight = config.nll_weight;
  return options;
}

bool loss_uses_reference_response(const PreferenceLossOptions& options) {
  return options.type == PreferenceLossType::selm && options.alpha != 0.0;
}

PreferenceBatchResult preference_batch(LlamaForCausalLM& policy, const std::vector<const TokenizedPreference*>& examples,
                                       const std::vector<const PreferenceRecord*>& records,
                                       const PreferenceLossOptions& options, std::int64_t pad_id, bool average_logps,
                                       LlamaForCausalLM* reference_model) {
  const bool with_y_ref = loss_uses_reference_response(options);
  const auto count = static_cast<std::int64_t>(examples.size());
  for (const PreferenceRecord* record : records) {
    if (with_y_ref && !record->reference_response) {
      throw InputError("line " + std::to_string(record->line) +
                       ": key 'reference_response': missing (the selm loss with alpha != 0 needs y_ref)");
    }
    if (reference_model == nullptr &&
        (!record->reference_logps || (with_y_ref && !record->reference_logps->reference_response))) {
      throw InputError("line " + std::to_string(record->line) + ": key 'reference_logps': not computed");
    }
  }
  const SequenceBatch batch = build_sequence_batch(preference_rows(examples, with_y_ref), pad_id, policy->device());
  const SequenceLogps policy_logps = sequence_logps(policy, batch, average_logps);  // (2B or 3B)

  PreferenceBatchResult result;
  result.num_tokens = batch.attention_mask.sum().item<std::int64_t>();
  PreferenceLogps& logps = result.logps;
  logps.policy_chosen = policy_logps.logps.slice(0, 0, count);
  logps.policy_rejected = policy_logps.logps.slice(0, count, 2 * count);
  if (with_y_ref) logps.policy_y_ref = policy_logps.logps.slice(0, 2 * count, 3 * count);
  // With averaged log-probs the NLL term's division by the length is already done.
  logps.chosen_token_counts = average_logps ? torch::ones({count}, policy_logps.token_counts.options())
                                            : policy_logps.token_counts.slice(0, 0, count);

  if (reference_model != nullptr) {
    torch::NoGradGuard no_grad;
    const torch::Tensor reference = sequence_logps(*reference_model, batch, average_logps).logps;
    logps.reference_chosen = reference.slice(0, 0, count);
    logps.reference_rejected = reference.slice(0, count, 2 * count);
    if (with_y_ref) logps.reference_y_ref = reference.slice(0, 2 * count, 3 * count);
  } else {
    std::vector<float> chosen, rejected, y_ref;
    for (const PreferenceRecord* record : records) {
      chosen.push_back(static_cast<float>(record->reference_logps->chosen));
      rejected.push_back(static_cast<float>(record->reference_logps->rejected));
      if (with_y_ref) y_ref.push_back(static_cast<float>(*record->reference_logps->reference_response));
    }
    const auto on_device = [&](const std::vector<float>& values) {
      return torch::tensor(values, torch::kFloat32).to(policy_logps.logps.device());
    };
    logps.reference_chosen = on_device(chosen);
    logps.reference_rejected = on_device(rejected);
    if (with_y_ref) logps.reference_y_ref = on_device(y_ref);
  }
  result.loss = preference_loss(logps, options);
  return result;
}

std::map<std::string, double> preference_metric_map(const PreferenceBatchResult& result) {
  const PreferenceMetrics metrics = preference_metrics(result.logps, result.loss);
  std::map<std::string, double> out{{"loss", metrics.loss},
                                    {"rewards/chosen", metrics.rewards_chosen},
                                    {"rewards/rejected", metrics.rewards_rejected},
                                    {"rewards/accuracies", metrics.rewards_accuracies},
                                    {"rewards/margins", metrics.rewards_margins},
                                    {"logps/chosen", metrics.logps_chosen},
                                    {"logps/rejected", metrics.logps_rejected}};
  if (result.logps.policy_y_ref.defined()) {
    out["logps/pi_response"] = metrics.logps_pi_response;
    out["logps/ref_response"] = metrics.logps_ref_response;
  }
  return out;
}

StepFunction preference_step_function(LlamaForCausalLM& policy, const std::vector<TokenizedPreference>& examples,
                                      const std::vector<PreferenceRecord>& records, const PreferenceLossOptions& options,
                                      std::int64_t pad_id, bool average_logps, LlamaForCausalLM* reference_model) {
  return [&policy, &examples, &records, options, pad_id, average_logps,
          reference_model](const std::vector<std::int64_t>& indices) {
    std::vector<const TokenizedPreference*> batch_examples;
    std::vector<const PreferenceRecord*> batch_records;
    for (std::int64_t index : indices) {
      batch_examples.push_back(&examples[static_cast<std::size_t>(index)]);
      batch_records.push_back(&records[static_cast<std::size_t>(index)]);
    }
    const PreferenceBatchResult result =
        preference_batch(policy, batch_examples, batch_records, options, pad_id, average_logps, reference_model);
    return StepOutput{result.loss.loss, preference_metric_map(result), result.num_tokens};
  };
}

}  // namespace selm
