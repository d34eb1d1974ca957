#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>

#include "selm/train/shuffle.hpp"

namespace selm {
namespace SELM_UNITY_ID {

TEST(TrainLoopShuffle, SplitMix64MatchesTheReferenceStream) {
  // First outputs of splitmix64 seeded with 0, as published with the reference implementation.
  SplitMix64 stream(0);
  EXPECT_EQ(stream.next(), 0xE220A8397B1DCDAFULL);
  EXPECT_EQ(stream.next(), 0x6E789E6AA1B965F4ULL);
  EXPECT_EQ(stream.next(), 0x06C45D188009454FULL);
}

TEST(TrainLoopShuffle, PermutationsAreGoldenValues) {
  // Computed with an independent Python implementation of the algorithm documented in
  // shuffle.hpp; any platform must give exactly these orders.
  EXPECT_EQ(epoch_permutation(10, 42, 0), (std::vector<std::int64_t>{2, 8, 9, 7, 1, 4, 6, 0, 5, 3}));
  EXPECT_EQ(epoch_permutation(10, 42, 1), (std::vector<std::int64_t>{3, 1, 6, 8, 4, 5, 9, 7, 2, 0}));
  EXPECT_EQ(epoch_permutation(12, 7, 3), (std::vector<std::int64_t>{2, 0, 7, 5, 11, 8, 6, 9, 4, 10, 3, 1}));
}

TEST(TrainLoopShuffle, IsAPermutationAndDependsOnSeedAndEpoch) {
  const auto order = epoch_permutation(1000, 42, 0);
  std::vector<std::int64_t> sorted = order;
  std::sort(sorted.begin(), sorted.end());
  std::vector<std::int64_t> identity(1000);
  std::iota(identity.begin(), identity.end(), std::int64_t{0});
  EXPECT_EQ(sorted, identity);
  EXPECT_NE(order, identity);
  EXPECT_EQ(order, epoch_permutation(1000, 42, 0));
  EXPECT_NE(order, epoch_permutation(1000, 42, 1));
  EXPECT_NE(order, epoch_permutation(1000, 43, 0));
  EXPECT_TRUE(epoch_permutation(0, 1, 0).empty());
  EXPECT_EQ(epoch_permutation(1, 1, 0), (std::vector<std::int64_t>{0}));
}

TEST(TrainLoopShuffle, BelowIsUnbiasedEnoughAndInRange) {
  SplitMix64 stream(123);
  std::vector<int> counts(3, 0);
  for (int i = 0; i < 30000; ++i) {
    const auto value = stream.below(3);
    ASSERT_LT(value, 3u);
    ++counts[value];
  }
  // Each count is Binomial(30000, 1/3): mean 10000, sd ~82; 5 sd either side.
  for (int count : counts) EXPECT_NEAR(count, 10000, 410);
  EXPECT_THROW(stream.below(0), std::invalid_argument);
}

}  // namespace
}  // namespace selm
