#include <gtest/gtest.h>

#include <torch/torch.h>

#include "selm/train/losses.hpp"
#include "selm/train/lr_schedule.hpp"
#include "selm/util/error.hpp"

namespace selm {
namespace SELM_UNITY_ID {

// Two examples with hand-checked numbers, beta = 0.1:
//   example 0: pi(y_w) = -10, pi(y_l) = -12, ref(y_w) = -11, ref(y_l) = -11.5
//              h = (-10 + 11) - (-12 + 11.5) = 1 + 0.5 = 1.5, beta h = 0.15
//              -log sigmoid(0.15) = ln(1 + e^-0.15) = ln(1.860707976) = 0.6209570478
//   example 1: pi(y_w) = -5, pi(y_l) = -4, ref(y_w) = -5, ref(y_l) = -5
//              h = 0 - 1 = -1, beta h = -0.1, ln(1 + e^0.1) = ln(2.105170918) = 0.7443966601
struct Fixture {
  torch::Tensor policy_chosen = torch::tensor({-10.0, -5.0}, torch::kFloat64).requires_grad_();
  torch::Tensor policy_rejected = torch::tensor({-12.0, -4.0}, torch::kFloat64).requires_grad_();
  torch::Tensor policy_y_ref = torch::tensor({-20.0, -7.0}, torch::kFloat64).requires_grad_();
  PreferenceLogps logps() const {
    PreferenceLogps l;
    l.policy_chosen = policy_chosen;
    l.policy_rejected = policy_rejected;
    l.reference_chosen = torch::tensor({-11.0, -5.0}, torch::kFloat64);
    l.reference_rejected = torch::tensor({-11.5, -5.0}, torch::kFloat64);
    l.policy_y_ref = policy_y_ref;
    l.reference_y_ref = torch::tensor({-18.0, -7.5}, torch::kFloat64);
    l.chosen_token_counts = torch::tensor({4.0, 5.0}, torch::kFloat64);
    return l;
  }
};

PreferenceLossOptions options(PreferenceLossType type, double alpha = 0.0, double eps = 0.0, double nll = 0.0) {
  PreferenceLossOptions o;
  o.type = type;
  o.beta = 0.1;
  o.alpha = alpha;
  o.label_smoothing = eps;
  o.nll_weight = nll;
  return o;
}

constexpr double kTol = 1e-9;

TEST(PreferenceLoss, DpoMatchesHandValuesAndGradient) {
  Fixture f;
  auto result = preference_loss(f.logps(), options(PreferenceLossType::dpo));
  EXPECT_NEAR(result.per_example_loss[0].item<double>(), 0.6209570478, kTol);
  EXPECT_NEAR(result.per_example_loss[1].item<double>(), 0.7443966601, kTol);
  EXPECT_NEAR(result.loss.item<double>(), (0.6209570478 + 0.7443966601) / 2, kTol);
  result.loss.backward();
  // d/d pi(y_w) of -log sigmoid(beta h) = -beta (1 - sigmoid(beta h)); halved by the batch mean.
  // sigmoid(0.15) = 0.5374298453, sigmoid(-0.1) = 0.4750208125
  EXPECT_NEAR(f.policy_chosen.grad()[0].item<double>(), -0.1 * (1 - 0.5374298453) / 2, kTol);
  EXPECT_NEAR(f.policy_chosen.grad()[1].item<double>(), -0.1 * (1 - 0.4750208125) / 2, kTol);
  EXPECT_NEAR(f.policy_rejected.grad()[0].item<double>(), 0.1 * (1 - 0.5374298453) / 2, kTol);
  EXPECT_FALSE(f.policy_y_ref.grad().defined() && f.policy_y_ref.grad().abs().sum().item<double>() != 0);
}

TEST(PreferenceLoss, LabelSmoothingAddsTheFlippedTerm) {
  Fixture f;
  auto result = preference_loss(f.logps(), options(PreferenceLossType::dpo, 0.0, 0.1));
  // 0.9 * 0.6209570478 + 0.1 * ln(1 + e^0.15) = 0.5588613430 + 0.1 * 0.7709570478
  EXPECT_NEAR(result.per_example_loss[0].item<double>(), 0.5588613430 + 0.07709570478, kTol);
}

TEST(PreferenceLoss, SelmAddsTheOptimismTermOnYRef) {
  Fixture f;
  auto result = preference_loss(f.logps(), options(PreferenceLossType::selm, 0.5));
  // + alpha beta (pi(y_ref) - ref(y_ref)) = 0.5 * 0.1 * (-20 + 18) = -0.1 ; and 0.05 * 0.5 = +0.025
  EXPECT_NEAR(result.per_example_loss[0].item<double>(), 0.6209570478 - 0.1, kTol);
  EXPECT_NEAR(result.per_example_loss[1].item<double>(), 0.7443966601 + 0.025, kTol);
  result.loss.backward();
  // d/d pi(y_ref) = alpha beta / B = 0.05 / 2
  EXPECT_NEAR(f.policy_y_ref.grad()[0].item<double>(), 0.025, kTol);
  EXPECT_NEAR(f.policy_y_ref.grad()[1].item<double>(), 0.025, kTol);
  EXPECT_NEAR(f.policy_chosen.grad()[0].item<double>(), -0.1 * (1 - 0.5374298453) / 2, kTol);
}

TEST(PreferenceLoss, SelmWithAlphaZeroIsExactlyDpo) {
  Fixture f;
  auto selm = preference_loss(f.logps(), options(PreferenceLossType::selm, 0.0, 0.05));
  auto dpo = preference_loss(f.logps(), options(PreferenceLossType::dpo, 0.0, 0.05));
  EXPECT_TRUE(torch::equal(selm.per_example_loss, dpo.per_example_loss));
  EXPECT_EQ(selm.loss.item<double>(), dpo.loss.item<double>());
}

TEST(PreferenceLoss, IpoAndHinge) {
  Fixture f;
  auto ipo = preference_loss(f.logps(), options(PreferenceLossType::ipo));
  // (h - 1 / (2 beta))^2: (1.5 - 5)^2 = 12.25 ; (-1 - 5)^2 = 36
  EXPECT_NEAR(ipo.per_example_loss[0].item<double>(), 12.25, kTol);
  EXPECT_NEAR(ipo.per_example_loss[1].item<double>(), 36.0, kTol);
  ipo.loss.backward();
  // d/d pi(y_w) = 2 (h - 5) / B = 2 * (-3.5) / 2 = -3.5
  EXPECT_NEAR(f.policy_chosen.grad()[0].item<double>(), -3.5, kTol);
  Fixture g;
  auto hinge = preference_loss(g.logps(), options(PreferenceLossType::hinge));
  // max(0, 1 - beta h): 1 - 0.15 = 0.85 ; 1 + 0.1 = 1.1
  EXPECT_NEAR(hinge.per_example_loss[0].item<double>(), 0.85, kTol);
  EXPECT_NEAR(hinge.per_example_loss[1].item<double>(), 1.1, kTol);
  hinge.loss.backward();
  EXPECT_NEAR(g.policy_chosen.grad()[0].item<double>(), -0.1 / 2, kTol);
}

TEST(PreferenceLoss, NllTermUsesMeanTokenNllOfChosen) {
  Fixture f;
  auto result = preference_loss(f.logps(), options(PreferenceLossType::dpo, 0.0, 0.0, 2.0));
  // + 2 * (10 / 4) = 5 ; + 2 * (5 / 5) = 2
  EXPECT_NEAR(result.per_example_loss[0].item<double>(), 0.6209570478 + 5.0, kTol);
  EXPECT_NEAR(result.per_example_loss[1].item<double>(), 0.7443966601 + 2.0, kTol);
}

TEST(PreferenceLoss, MetricsAreTheReferenceCodesOnes) {
  Fixture f;
  auto logps = f.logps();
  auto result = preference_loss(logps, options(PreferenceLossType::selm, 0.5));
  auto m = preference_metrics(logps, result);
  // rewards/chosen: beta (pi - ref) = 0.1 * [1, 0] -> mean 0.05; rejected 0.1 * [-0.5, 1] -> 0.025
  EXPECT_NEAR(m.rewards_chosen, 0.05, kTol);
  EXPECT_NEAR(m.rewards_rejected, 0.025, kTol);
  EXPECT_NEAR(m.rewards_accuracies, 0.5, kTol);  // 0.1 > -0.05 yes ; 0 > 0.1 no
  EXPECT_NEAR(m.rewards_margins, 0.025, kTol);
  EXPECT_NEAR(m.logps_chosen, -7.5, kTol);
  EXPECT_NEAR(m.logps_rejected, -8.0, kTol);
  EXPECT_NEAR(m.logps_pi_response, -13.5, kTol);
  EXPECT_NEAR(m.logps_ref_response, -12.75, kTol);
  EXPECT_NEAR(m.loss, result.loss.item<double>(), kTol);
}

TEST(PreferenceLoss, UnknownNamesAreInputErrors) {
  EXPECT_EQ(parse_enum<PreferenceLossType>("ipo", "loss"), PreferenceLossType::ipo);
  EXPECT_THROW(parse_enum<PreferenceLossType>("kto", "train.loss"), InputError);
  EXPECT_THROW(parse_enum<LrScheduleType>("linear", "lr_schedule"), InputError);
}

TEST(LrSchedule, CosineWithWarmupMatchesFormula) {
  // 100 steps, 10 warmup, peak 5e-7.
  EXPECT_DOUBLE_EQ(learning_rate_at(LrScheduleType::cosine, 5e-7, 0, 100, 10), 0.0);
  EXPECT_DOUBLE_EQ(learning_rate_at(LrScheduleType::cosine, 5e-7, 5, 100, 10), 2.5e-7);
  EXPECT_DOUBLE_EQ(learning_rate_at(LrScheduleType::cosine, 5e-7, 10, 100, 10), 5e-7);
  // halfway through the decay: cos(pi / 2) = 0 -> half the peak
  EXPECT_NEAR(learning_rate_at(LrScheduleType::cosine, 5e-7, 55, 100, 10), 2.5e-7, 1e-20);
  // step 32: 22 of 90 decay steps
  EXPECT_NEAR(learning_rate_at(LrScheduleType::cosine, 5e-7, 32, 100, 10),
              5e-7 * 0.5 * (1 + std::cos(M_PI * 22.0 / 90.0)), 1e-20);
  EXPECT_NEAR(learning_rate_at(LrScheduleType::cosine, 1.0, 100, 100, 10), 0.0, 1e-15);
  EXPECT_DOUBLE_EQ(learning_rate_at(LrScheduleType::constant, 3e-4, 50, 100, 10), 3e-4);
  EXPECT_DOUBLE_EQ(learning_rate_at(LrScheduleType::constant, 3e-4, 2, 100, 4), 1.5e-4);
  EXPECT_EQ(warmup_steps_for(0.1, 95), 10);
  EXPECT_EQ(warmup_steps_for(0.0, 95), 0);
}

}  // namespace
}  // namespace selm
