#include "selm/train/shuffle.hpp"

#include <numeric>
#include <stdexcept>
#include <utility>

namespace selm {

namespace {
constexpr std::uint64_t kGoldenGamma = 0x9E3779B97F4A7C15ULL;
}

std::uint64_t splitmix64_mix(std::uint64_t value) {
  value = (value ^ (value >> 30)) * 0xBF58476D1CE4E5B9ULL;
  value = (value ^ (value >> 27)) * 0x94D049BB133111EBULL;
  return value ^ (value >> 31);
}

std::uint64_t SplitMix64::next() {
  state_ += kGoldenGamma;
  return splitmix64_mix(state_);
}

std::uint64_t SplitMix64::below(std::uint64_t bound) {
  if (bound == 0) throw std::invalid_argument("SplitMix64::below: bound must be at least 1");
  // Values below `threshold` would make some residues more likely: 2^64 mod bound of them.
  const std::uint64_t threshold = (0 - bound) % bound;
  while (true) {
    const std::uint64_t value = next();
    if (value >= threshold) return value % bound;
  }
}

std::vector<std::int64_t> epoch_permutation(std::int64_t num_examples, std::uint64_t seed, std::int64_t epoch) {
  if (num_examples < 0) throw std::invalid_argument("epoch_permutation: negative number of examples");
  std::vector<std::int64_t> order(static_cast<std::size_t>(num_examples));
  std::iota(order.begin(), order.end(), std::int64_t{0});
  SplitMix64 stream(splitmix64_mix(splitmix64_mix(seed) + static_cast<std::uint64_t>(epoch)));
  for (std::int64_t i = num_examples - 1; i > 0; --i) {
    const auto j = static_cast<std::int64_t>(stream.below(static_cast<std::uint64_t>(i) + 1));
    std::swap(order[static_cast<std::size_t>(i)], order[static_cast<std::size_t>(j)]);
  }
  return order;
}

}  // namespace selm
