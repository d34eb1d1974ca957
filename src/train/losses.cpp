#include "selm/train/losses.hpp"

#include <torch/torch.h>

#include "selm/util/error.hpp"

namespace selm {

PreferenceLossResult preference_loss(const PreferenceLogps& logps, const PreferenceLossOptions& options) {
  const double beta = options.beta;
  const torch::Tensor chosen_log_ratio = logps.policy_chosen - logps.reference_chosen;        // (B)
  const torch::Tensor rejected_log_ratio = logps.policy_rejected - logps.reference_rejected;  // (B)
  const torch::Tensor h = chosen_log_ratio - rejected_log_ratio;                              // (B)

  torch::Tensor per_example;
  switch (options.type) {
    case PreferenceLossType::dpo:
    case PreferenceLossType::selm: {
      const double eps = options.label_smoothing;
      per_example = -(1.0 - eps) * torch::log_sigmoid(beta * h);
      if (eps > 0) per_example = per_example - eps * torch::log_sigmoid(-beta * h);
      if (options.type == PreferenceLossType::selm && options.alpha != 0.0) {
        if (!logps.policy_y_ref.defined() || !logps.reference_y_ref.defined()) {
          throw std::invalid_argument("the selm loss with alpha != 0 needs log-probs of the reference response y_ref");
        }
        // The optimism term: lowers the likelihood of the round's own response, most where its
        // implicit reward beta * log(pi / ref) is low (SELM.md).
        per_example = per_example + options.alpha * beta * (logps.policy_y_ref - logps.reference_y_ref);
      }
      break;
    }
    case PreferenceLossType::ipo:
      per_example = (h - 1.0 / (2.0 * beta)).pow(2);
      break;
    case PreferenceLossType::hinge:
      per_example = torch::relu(1.0 - beta * h);
      break;
  }
  if (options.nll_weight > 0) {
    if (!logps.chosen_token_counts.defined()) {
      throw std::invalid_argument("the NLL term needs the chosen responses' token counts");
    }
    per_example = per_example + options.nll_weight * (-logps.policy_chosen / logps.chosen_token_counts.clamp_min(1));
  }

  PreferenceLossResult result;
  result.per_example_loss = per_example;
  result.loss = per_example.mean();
  result.chosen_rewards = (beta * chosen_log_ratio).detach();
  result.rejected_rewards = (beta * rejected_log_ratio).detach();
  return result;
}

PreferenceMetrics preference_metrics(const PreferenceLogps& logps, const PreferenceLossResult& result) {
  auto mean_of = [](const torch::Tensor& values) {
    return values.defined() ? values.detach().to(torch::kFloat64).mean().item<double>() : 0.0;
  };
  PreferenceMetrics metrics;
  metrics.loss = mean_of(result.loss);
  metrics.rewards_chosen = mean_of(result.chosen_rewards);
  metrics.rewards_rejected = mean_of(result.rejected_rewards);
  metrics.rewards_accuracies = mean_of((result.chosen_rewards > result.rejected_rewards).to(torch::kFloat64));
  metrics.rewards_margins = mean_of(result.chosen_rewards - result.rejected_rewards);
  metrics.logps_chosen = mean_of(logps.policy_chosen);
  metrics.logps_rejected = mean_of(logps.policy_rejected);
  metrics.logps_pi_response = mean_of(logps.policy_y_ref);
  metrics.logps_ref_response = mean_of(logps.reference_y_ref);
  return metrics;
}

}  // namespace selm
