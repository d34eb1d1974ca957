// Preference losses as pure functions of sequence log-prob tensors (SELM.md, STYLE.md 9).
//
// Notation, per example b (all tensors (B), summed token log-probs of a response given its prompt):
//   policy_chosen = pi(y_w), policy_rejected = pi(y_l), reference_* = ref(.) likewise,
//   policy_y_ref / reference_y_ref = pi(y_ref) / ref(y_ref) for the round's fresh response.
//   h = (pi(y_w) - ref(y_w)) - (pi(y_l) - ref(y_l))
//
//   dpo   : -(1 - eps) log sigmoid(beta h) - eps log sigmoid(-beta h)   (eps = label smoothing)
//   selm  : dpo + alpha * beta * (pi(y_ref) - ref(y_ref))               (alpha = 0: exactly dpo)
//   ipo   : (h - 1 / (2 beta))^2
//   hinge : max(0, 1 - beta h)
//   + nll_weight * chosen_nll when nll_weight > 0, chosen_nll = -pi(y_w) / |y_w| (mean token NLL)
#pragma once

#include <torch/types.h>

#include "selm/train/loss_type.hpp"

namespace selm {

struct PreferenceLossOptions {
  PreferenceLossType type = PreferenceLossType::selm;
  double beta = 0.01;            // strength of the KL regularisation (implicit reward scale)
  double alpha = 0.001;          // SELM optimism coefficient
  double label_smoothing = 0.0;  // conservative DPO: assumed probability that a label is flipped
  double nll_weight = 0.0;       // weight of the chosen response's mean token NLL
};

struct PreferenceLogps {
  torch::Tensor policy_chosen;       // (B) with grad
  torch::Tensor policy_rejected;     // (B) with grad
  torch::Tensor reference_chosen;    // (B) constant
  torch::Tensor reference_rejected;  // (B) constant
  torch::Tensor policy_y_ref;        // (B) with grad; needed by selm when alpha != 0
  torch::Tensor reference_y_ref;     // (B) constant; needed by selm when alpha != 0
  torch::Tensor chosen_token_counts; // (B) number of response tokens of y_w; needed by the NLL term
};

// Metrics the SELM reference code logs (means over the batch, detached) plus the loss.
struct PreferenceMetrics {
  double loss = 0;
  double rewards_chosen = 0;     // beta * (pi(y_w) - ref(y_w))
  double rewards_rejected = 0;   // beta * (pi(y_l) - ref(y_l))
  double rewards_accuracies = 0; // fraction with rewards_chosen > rewards_rejected
  double rewards_margins = 0;    // rewards_chosen - rewards_rejected
  double logps_chosen = 0;       // pi(y_w)
  double logps_rejected = 0;     // pi(y_l)
  double logps_pi_response = 0;  // pi(y_ref) (0 when not given)
  double logps_ref_response = 0; // ref(y_ref) (0 when not given)
};

struct PreferenceLossResult {
  torch::Tensor loss;              // () mean over the batch, differentiable
  torch::Tensor per_example_loss;  // (B)
  torch::Tensor chosen_rewards;    // (B) detached
  torch::Tensor rejected_rewards;  // (B) detached
};

PreferenceLossResult preference_loss(const PreferenceLogps& logps, const PreferenceLossOptions& options);

// Batch means of the metrics above, for logging. `result` comes from preference_loss on `logps`.
PreferenceMetrics preference_metrics(const PreferenceLogps& logps, const PreferenceLossResult& result);

}  // namespace selm
