// Next-token selection: pure functions of logits and uniform random numbers.
//
// Randomness is counter-based: the uniform number of a draw is a hash of (seed, prompt index,
// sample index, step), never the state of a shared generator, so a sequence's tokens do not
// depend on the batch size, on which other sequences share its batch, or on the device.
#pragma once

#include <cstdint>

#include <torch/torch.h>

namespace selm {

// splitmix64's finaliser: a bijective mix of 64 bits.
std::uint64_t splitmix64(std::uint64_t x);

// A uniform double in [0, 1), a deterministic function of its four arguments.
double counter_uniform(std::uint64_t seed, std::uint64_t prompt_index, std::uint64_t sample_index,
                       std::uint64_t step);

// Token filters and temperature; SamplingConfig holds the same values.
struct SamplerSettings {
  double temperature = 1.0;  // 0 = greedy (argmax of the raw logits)
  std::int64_t top_k = 0;    // keep the k most likely tokens; 0 = off
  double top_p = 1.0;        // nucleus mass in (0, 1]; 1 = off
};

// The renormalised distribution actually sampled from, over candidates sorted by decreasing
// probability (ties in index order are not guaranteed).
// logits: (B, V) any float dtype -> {probs: (B, K) float32, token_ids: (B, K) int64}, where K = V,
// or top_k when 0 < top_k < V; tokens removed by top-p have probability 0. Temperature must be > 0.
std::pair<torch::Tensor, torch::Tensor> filtered_distribution(const torch::Tensor& logits,
                                                              const SamplerSettings& settings);

// Next tokens by inverse-CDF sampling of filtered_distribution: row b takes the first candidate
// whose cumulative probability exceeds uniforms[b]. Greedy (temperature 0) ignores the uniforms.
// Computed on the logits' device; only the B uniforms travel there.
// logits: (B, V); uniforms: (B) float64 in [0, 1), any device -> (B) int64 on the logits' device.
torch::Tensor sample_next_tokens(const torch::Tensor& logits, const torch::Tensor& uniforms,
                                 const SamplerSettings& settings);

}  // namespace selm
