#include "selm/generate/sampler.hpp"

#include <stdexcept>

namespace selm {

std::uint64_t splitmix64(std::uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

double counter_uniform(std::uint64_t seed, std::uint64_t prompt_index, std::uint64_t sample_index,
                       std::uint64_t step) {
  // Chaining the mix (rather than xor-ing the inputs together) keeps (1, 2) and (2, 1) apart.
  std::uint64_t state = splitmix64(seed);
  state = splitmix64(state ^ prompt_index);
  state = splitmix64(state ^ sample_index);
  state = splitmix64(state ^ step);
  return static_cast<double>(state >> 11) * 0x1.0p-53;  // 53 random bits -> [0, 1)
}

std::pair<torch::Tensor, torch::Tensor> filtered_distribution(const torch::Tensor& logits,
                                                              const SamplerSettings& settings) {
  if (!(settings.temperature > 0.0)) {
    throw std::invalid_argument("filtered_distribution: temperature must be positive");
  }
  const auto scaled = logits.to(torch::kFloat) / settings.temperature;  // (B, V)
  const std::int64_t vocab = scaled.size(-1);
  torch::Tensor sorted_logits, sorted_ids;
  if (settings.top_k > 0 && settings.top_k < vocab) {
    std::tie(sorted_logits, sorted_ids) = scaled.topk(settings.top_k, -1, /*largest=*/true, /*sorted=*/true);
  } else {
    std::tie(sorted_logits, sorted_ids) = scaled.sort(-1, /*descending=*/true);
  }
  auto probs = torch::softmax(sorted_logits, -1);  // (B, K)
  if (settings.top_p < 1.0) {
    // Keep a candidate while the mass strictly before it is below top_p: the smallest prefix with
    // mass >= top_p, the first candidate always included. The slack absorbs float32 rounding, so
    // that a prefix summing to top_p "exactly" counts as reaching it.
    const auto mass_before = probs.cumsum(-1) - probs;
    probs = probs.masked_fill(mass_before >= settings.top_p - 1e-6, 0.0);
    probs = probs / probs.sum(-1, /*keepdim=*/true);
  }
  return {probs, sorted_ids};
}

torch::Tensor sample_next_tokens(const torch::Tensor& logits, const torch::Tensor& uniforms,
                                 const SamplerSettings& settings) {
  if (settings.temperature == 0.0) return logits.argmax(-1);
  const auto [probs, candidate_ids] = filtered_distribution(logits, settings);
  const auto cdf = probs.cumsum(-1);                                                // (B, K)
  const auto u = uniforms.to(cdf.device(), torch::kFloat).unsqueeze(1);            // (B, 1)
  // Index of the first cdf entry > u; the clamp guards against cdf[-1] < 1 by rounding, and the
  // last kept candidate bounds it so removed (zero-probability) candidates are never drawn.
  const auto kept = (probs > 0).sum(-1, /*keepdim=*/true);                         // (B, 1)
  auto choice = (cdf <= u).sum(-1, /*keepdim=*/true);
  choice = torch::minimum(choice, kept - 1);
  return candidate_ids.gather(1, choice).squeeze(1);
}

}  // namespace selm
