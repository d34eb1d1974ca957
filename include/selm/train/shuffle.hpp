// Seeded, platform-independent example order for training epochs.
//
// std::shuffle and std::uniform_int_distribution are implementation-defined, so the same seed
// would give a different data order with libstdc++ and libc++. The order here is defined
// entirely by this file: a splitmix64 stream and an unbiased Fisher-Yates shuffle, so that a run
// resumed on another machine sees the examples in the same order.
#pragma once

#include <cstdint>
#include <vector>

namespace selm {

// splitmix64's output function: a bijective 64-bit mix with good avalanche.
std::uint64_t splitmix64_mix(std::uint64_t value);

// Deterministic stream of 64-bit values (splitmix64: state += golden gamma, output = mix(state)).
class SplitMix64 {
 public:
  explicit SplitMix64(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next();
  // Uniform integer in [0, bound) by rejection (no modulo bias); bound >= 1.
  std::uint64_t below(std::uint64_t bound);

 private:
  std::uint64_t state_;
};

// Permutation of 0..num_examples-1 for (seed, epoch): Fisher-Yates from the last position down,
// swapping position i with below(i + 1) drawn from SplitMix64(mix(mix(seed) + epoch)).
// Different epochs give independent orders; the same (seed, epoch) always the same one.
std::vector<std::int64_t> epoch_permutation(std::int64_t num_examples, std::uint64_t seed, std::int64_t epoch);

}  // namespace selm
