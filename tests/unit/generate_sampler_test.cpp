// Sampler: greedy, temperature, top-k, top-p on hand-made distributions, inverse-CDF draws and
// the counter-based uniforms.
#include <gtest/gtest.h>

#include <cmath>
#include <set>
#include <vector>

#include <torch/torch.h>

#include "selm/generate/sampler.hpp"

namespace selm {
namespace SELM_UNITY_ID {

torch::Tensor log_probs_row(const std::vector<double>& probs) {
  return torch::tensor(probs, torch::kDouble).log().to(torch::kFloat).unsqueeze(0);  // (1, V)
}

std::int64_t draw(const torch::Tensor& logits, double uniform, const SamplerSettings& settings) {
  return sample_next_tokens(logits, torch::tensor({uniform}, torch::kDouble), settings).item<std::int64_t>();
}

TEST(GenerateSampler, GreedyIsArgmax) {
  torch::manual_seed(1);
  const auto logits = torch::randn({6, 50});
  const auto uniforms = torch::rand({6}, torch::kDouble);
  const auto tokens = sample_next_tokens(logits, uniforms, {0.0, 0, 1.0});
  EXPECT_TRUE(torch::equal(tokens, logits.argmax(-1)));
  EXPECT_EQ(tokens.scalar_type(), torch::kLong);
  // top_k = 1 leaves only the argmax, whatever the uniform and temperature.
  EXPECT_TRUE(torch::equal(sample_next_tokens(logits, uniforms, {1.0, 1, 1.0}), logits.argmax(-1)));
  EXPECT_TRUE(torch::equal(sample_next_tokens(logits, torch::full({6}, 0.999, torch::kDouble), {3.0, 1, 1.0}),
                           logits.argmax(-1)));
}

TEST(GenerateSampler, TopPKeepsSmallestSetReachingTheMass) {
  const auto logits = log_probs_row({0.5, 0.3, 0.15, 0.05});
  const SamplerSettings settings{1.0, 0, 0.8};
  const auto [probs, ids] = filtered_distribution(logits, settings);
  EXPECT_TRUE(torch::equal(ids, torch::tensor({0, 1, 2, 3}, torch::kLong).unsqueeze(0)));
  // Renormalised over {0, 1}: 0.5 / 0.8 and 0.3 / 0.8.
  EXPECT_TRUE(torch::allclose(probs, torch::tensor({0.625, 0.375, 0.0, 0.0}).unsqueeze(0), 1e-6, 1e-6)) << probs;
  // Inverse CDF of [0.625, 1.0]: u < 0.625 -> token 0, otherwise token 1; never 2 or 3.
  EXPECT_EQ(draw(logits, 0.0, settings), 0);
  EXPECT_EQ(draw(logits, 0.6, settings), 0);
  EXPECT_EQ(draw(logits, 0.62, settings), 0);
  EXPECT_EQ(draw(logits, 0.63, settings), 1);
  EXPECT_EQ(draw(logits, 0.99, settings), 1);
  EXPECT_EQ(draw(logits, 0.9999999, settings), 1);
  // Slightly more mass than 0.8 needs the third token.
  const auto [probs_3, ids_3] = filtered_distribution(logits, {1.0, 0, 0.81});
  EXPECT_TRUE(torch::allclose(probs_3, torch::tensor({0.5, 0.3, 0.15, 0.0}).unsqueeze(0) / 0.95, 1e-6, 1e-6)) << probs_3;
  // A tiny top_p keeps the most likely token only.
  EXPECT_EQ(draw(logits, 0.99, {1.0, 0, 0.01}), 0);
}

TEST(GenerateSampler, UnfilteredInverseCdf) {
  // Tokens given out of order: candidates are sorted by probability, then the CDF is walked.
  const auto logits = log_probs_row({0.15, 0.5, 0.05, 0.3});
  const SamplerSettings settings{1.0, 0, 1.0};
  EXPECT_EQ(draw(logits, 0.0, settings), 1);   // cdf: 0.5 (id 1), 0.8 (id 3), 0.95 (id 0), 1.0 (id 2)
  EXPECT_EQ(draw(logits, 0.49, settings), 1);
  EXPECT_EQ(draw(logits, 0.51, settings), 3);
  EXPECT_EQ(draw(logits, 0.79, settings), 3);
  EXPECT_EQ(draw(logits, 0.81, settings), 0);
  EXPECT_EQ(draw(logits, 0.96, settings), 2);
}

TEST(GenerateSampler, TopKAndTemperature) {
  const auto logits = log_probs_row({0.15, 0.5, 0.05, 0.3});
  const auto [probs, ids] = filtered_distribution(logits, {1.0, 2, 1.0});
  EXPECT_TRUE(torch::equal(ids, torch::tensor({1, 3}, torch::kLong).unsqueeze(0)));
  EXPECT_TRUE(torch::allclose(probs, torch::tensor({0.625, 0.375}).unsqueeze(0), 1e-6, 1e-6)) << probs;
  EXPECT_EQ(draw(logits, 0.99, {1.0, 2, 1.0}), 3);
  // Temperature 2: p^(1/2) renormalised.
  const auto [hot, hot_ids] = filtered_distribution(logits, {2.0, 0, 1.0});
  const std::vector<double> roots = {std::sqrt(0.5), std::sqrt(0.3), std::sqrt(0.15), std::sqrt(0.05)};
  const double total = roots[0] + roots[1] + roots[2] + roots[3];
  const auto expected = torch::tensor({roots[0] / total, roots[1] / total, roots[2] / total, roots[3] / total},
                                      torch::kFloat).unsqueeze(0);
  EXPECT_TRUE(torch::allclose(hot, expected, 1e-6, 1e-6)) << hot;
  // Temperature 0.5: p^2 renormalised; the top token gains mass.
  const auto [cold, cold_ids] = filtered_distribution(logits, {0.5, 0, 1.0});
  EXPECT_NEAR(cold[0][0].item<double>(), 0.25 / (0.25 + 0.09 + 0.0225 + 0.0025), 1e-6);
}

TEST(GenerateSampler, RowsAreIndependent) {
  torch::manual_seed(2);
  const auto logits = torch::randn({5, 40}) * 3;
  const auto uniforms = torch::rand({5}, torch::kDouble);
  const SamplerSettings settings{0.7, 10, 0.9};
  const auto batched = sample_next_tokens(logits, uniforms, settings);
  for (int row = 0; row < 5; ++row) {
    const auto alone = sample_next_tokens(logits.narrow(0, row, 1), uniforms.narrow(0, row, 1), settings);
    EXPECT_EQ(alone.item<std::int64_t>(), batched[row].item<std::int64_t>());
  }
}

TEST(GenerateSampler, CounterUniformIsDeterministicAndUniform) {
  EXPECT_EQ(counter_uniform(42, 3, 1, 7), counter_uniform(42, 3, 1, 7));
  std::set<double> distinct = {counter_uniform(42, 3, 1, 7), counter_uniform(43, 3, 1, 7), counter_uniform(42, 4, 1, 7),
                               counter_uniform(42, 3, 2, 7), counter_uniform(42, 3, 1, 8), counter_uniform(42, 1, 3, 7)};
  EXPECT_EQ(distinct.size(), 6u);
  double sum = 0.0;
  int below_tenth = 0;
  const int draws = 20000;
  for (int i = 0; i < draws; ++i) {
    const double u = counter_uniform(42, static_cast<std::uint64_t>(i % 100), static_cast<std::uint64_t>(i / 100), 0);
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
    sum += u;
    below_tenth += u < 0.1 ? 1 : 0;
  }
  EXPECT_NEAR(sum / draws, 0.5, 0.01);
  EXPECT_NEAR(static_cast<double>(below_tenth) / draws, 0.1, 0.01);
  EXPECT_EQ(splitmix64(0), 0xE220A8397B1DCDAFULL);  // the published first output of seed 0
}

}  // namespace
}  // namespace selm
