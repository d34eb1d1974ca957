// The fused CPU kernels (attention slices, RMSNorm, rotary embedding, SwiGLU) against the same
// maths composed of plain ATen ops in float64: forward values and every input's gradient, with
// padding, a query with no visible key, grouped-query heads and non-contiguous inputs.
#include <gtest/gtest.h>

#include <limits>

#include <torch/torch.h>

#include "selm/model/fused_ops.hpp"
#include "selm/model/llama.hpp"

namespace selm {
namespace SELM_UNITY_ID {

constexpr double kTolerance = 2e-5;  // float32 kernels against float64 references

double max_difference(const torch::Tensor& a, const torch::Tensor& b) {
  return (a.to(torch::kDouble) - b.to(torch::kDouble)).abs().max().item<double>();
}

// Leaves for a float32 kernel and a float64 reference, with the same values.
std::pair<torch::Tensor, torch::Tensor> twin_leaves(const torch::Tensor& values) {
  return {values.to(torch::kFloat).detach().requires_grad_(true), values.to(torch::kDouble).detach().requires_grad_(true)};
}

// softmax(q k^T / sqrt(D)) v with blocked scores at the lowest finite value, repeat_kv style.
// q: (B, H, T, D); k, v: (B, n_kv, S, D); allowed: (B, 1, T, S)
torch::Tensor reference_attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                                  const torch::Tensor& allowed) {
  const std::int64_t group = q.size(1) / k.size(1);
  const auto keys = k.repeat_interleave(group, 1), values = v.repeat_interleave(group, 1);
  auto scores = torch::matmul(q, keys.transpose(-2, -1)) / std::sqrt(static_cast<double>(q.size(3)));
  scores = scores.masked_fill(allowed.logical_not(), std::numeric_limits<double>::lowest());
  return torch::matmul(torch::softmax(scores, -1), values);
}

TEST(ModelFusedOps, AttentionMatchesTheComposedMathsWithGradients) {
  torch::manual_seed(3);
  const std::int64_t batch = 3, heads = 4, kv_heads = 2, tokens = 7, dim = 8;
  // Row 0 is left-padded by 3 (its first three queries see nothing), row 1 by 1, row 2 not at all.
  auto mask = torch::ones({batch, tokens}, torch::kLong);
  mask[0].narrow(0, 0, 3).fill_(0);
  mask[1][0] = 0;
  const auto allowed = build_attention_allowed(mask, tokens, 0);  // (B, 1, T, T)
  const auto [q, q_ref] = twin_leaves(torch::randn({batch, heads, tokens, dim}));
  const auto [k, k_ref] = twin_leaves(torch::randn({batch, kv_heads, tokens, dim}));
  const auto [v, v_ref] = twin_leaves(torch::randn({batch, kv_heads, tokens, dim}));
  const auto output = grouped_query_attention(q, k, v, allowed);
  const auto expected = reference_attention(q_ref, k_ref, v_ref, allowed);
  EXPECT_LT(max_difference(output, expected), kTolerance);
  // The fully padded queries of row 0 average the values uniformly, as the composed kernel does.
  EXPECT_LT(max_difference(output[0][0][0], v[0][0].mean(0)), kTolerance);

  const auto upstream = torch::randn(output.sizes(), torch::kDouble);
  (output * upstream.to(torch::kFloat)).sum().backward();
  (expected * upstream).sum().backward();
  EXPECT_LT(max_difference(q.grad(), q_ref.grad()), kTolerance);
  EXPECT_LT(max_difference(k.grad(), k_ref.grad()), kTolerance);
  EXPECT_LT(max_difference(v.grad(), v_ref.grad()), kTolerance);
  // The queries that see no key get no gradient through their scores: their rows of dq are 0.
  EXPECT_EQ(q.grad()[0].narrow(1, 0, 3).abs().max().item<float>(), 0.0f);
}

TEST(ModelFusedOps, AttentionOnNonContiguousKeysAndValues) {
  torch::manual_seed(4);
  // Keys and values as the layer makes them: (B, S, n_kv, D) transposed to (B, n_kv, S, D).
  const auto q = torch::randn({2, 4, 9, 16});
  const auto k = torch::randn({2, 9, 4, 16}).transpose(1, 2);
  const auto v = torch::randn({2, 9, 4, 16}).transpose(1, 2);
  const auto allowed = build_attention_allowed(torch::ones({2, 9}, torch::kLong), 9, 0);
  const auto expected = reference_attention(q.to(torch::kDouble), k.to(torch::kDouble), v.to(torch::kDouble), allowed);
  EXPECT_LT(max_difference(grouped_query_attention(q, k, v, allowed), expected), kTolerance);
}

TEST(ModelFusedOps, RmsNormMatchesTheComposedMathsWithGradients) {
  torch::manual_seed(5);
  const auto [x, x_ref] = twin_leaves(torch::randn({2, 5, 24}) * 3);
  const auto [weight, weight_ref] = twin_leaves(torch::rand({24}) + 0.5);
  const double eps = 1e-5;
  const auto output = rms_norm(x, weight, eps);
  const auto expected = weight_ref * (x_ref * torch::rsqrt(x_ref.pow(2).mean(-1, true) + eps));
  EXPECT_LT(max_difference(output, expected), kTolerance);
  const auto upstream = torch::randn(output.sizes(), torch::kDouble);
  (output * upstream.to(torch::kFloat)).sum().backward();
  (expected * upstream).sum().backward();
  EXPECT_LT(max_difference(x.grad(), x_ref.grad()), kTolerance);
  EXPECT_LT(max_difference(weight.grad(), weight_ref.grad()), 1e-4);  // a sum over 10 rows
}

TEST(ModelFusedOps, RmsNormRowsDoNotDependOnTheirBatch) {
  torch::manual_seed(6);
  const auto x = torch::randn({200, 32});
  const auto weight = torch::rand({32});
  const auto together = rms_norm(x, weight, 1e-6);
  const auto alone = rms_norm(x.narrow(0, 137, 1), weight, 1e-6);
  EXPECT_TRUE(torch::equal(together.narrow(0, 137, 1), alone));
}

TEST(ModelFusedOps, RotaryMatchesTheComposedMathsWithGradients) {
  torch::manual_seed(7);
  const std::int64_t batch = 2, heads = 3, tokens = 5, dim = 8;
  const auto positions = torch::arange(tokens, torch::kLong).unsqueeze(0).repeat({batch, 1}) + 4;
  const auto [cos, sin] = rotary_cos_sin(positions, dim, 10000.0);  // (B, T, D)
  // As the layer feeds it: a (B, T, H, D) projection viewed as (B, H, T, D).
  const auto base = torch::randn({batch, tokens, heads, dim});
  const auto [x_rows, x_ref_rows] = twin_leaves(base);
  const auto x = x_rows.transpose(1, 2), x_ref = x_ref_rows.transpose(1, 2);
  const auto output = apply_rotary(x, cos, sin);
  const auto half = dim / 2;
  const auto rotated = torch::cat({-x_ref.narrow(-1, half, half), x_ref.narrow(-1, 0, half)}, -1);
  const auto expected = x_ref * cos.unsqueeze(1).to(torch::kDouble) + rotated * sin.unsqueeze(1).to(torch::kDouble);
  EXPECT_TRUE(output.is_contiguous());
  EXPECT_LT(max_difference(output, expected), kTolerance);
  const auto upstream = torch::randn(output.sizes(), torch::kDouble);
  (output * upstream.to(torch::kFloat)).sum().backward();
  (expected * upstream).sum().backward();
  EXPECT_LT(max_difference(x_rows.grad(), x_ref_rows.grad()), kTolerance);
}

TEST(ModelFusedOps, SwigluMatchesTheComposedMathsWithGradients) {
  torch::manual_seed(8);
  const auto [gate, gate_ref] = twin_leaves(torch::randn({4, 6, 10}) * 2);
  const auto [up, up_ref] = twin_leaves(torch::randn({4, 6, 10}));
  const auto output = swiglu(gate, up);
  const auto expected = torch::silu(gate_ref) * up_ref;
  EXPECT_LT(max_difference(output, expected), kTolerance);
  const auto upstream = torch::randn(output.sizes(), torch::kDouble);
  (output * upstream.to(torch::kFloat)).sum().backward();
  (expected * upstream).sum().backward();
  EXPECT_LT(max_difference(gate.grad(), gate_ref.grad()), kTolerance);
  EXPECT_LT(max_difference(up.grad(), up_ref.grad()), kTolerance);
}

}  // namespace
}  // namespace selm
