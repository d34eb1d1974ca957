// The interval statistics that reports and comparisons rely on, against textbook values.
#include <gtest/gtest.h>

#include <cmath>

#include "selm/eval/statistics.hpp"

namespace selm {
namespace SELM_UNITY_ID {

TEST(EvalStatistics, WilsonIntervalOfEightWinsInTen) {
  const WinRate rate = win_rate(8, 0, 2);
  EXPECT_DOUBLE_EQ(rate.rate, 0.8);
  EXPECT_EQ(rate.decided(), 10);
  EXPECT_NEAR(rate.interval.low, 0.490, 5e-4);
  EXPECT_NEAR(rate.interval.high, 0.943, 5e-4);
}

TEST(EvalStatistics, TiesCountHalf) {
  const WinRate rate = win_rate({Outcome::win, Outcome::tie, Outcome::loss, Outcome::win});
  EXPECT_DOUBLE_EQ(rate.rate, 2.5 / 4.0);
  EXPECT_EQ(rate.ties, 1);
  const WinRate none = win_rate(0, 0, 0);
  EXPECT_DOUBLE_EQ(none.rate, 0.5);
  EXPECT_DOUBLE_EQ(none.interval.high, 1.0);
}

TEST(EvalStatistics, StudentTQuantiles) {
  EXPECT_DOUBLE_EQ(student_t_975(2), 4.303);
  EXPECT_DOUBLE_EQ(student_t_975(1), 12.706);
  EXPECT_NEAR(student_t_975(60), 2.000, 1e-3);   // table value 2.000
  EXPECT_NEAR(student_t_975(120), 1.980, 1e-3);  // table value 1.980
}

TEST(EvalStatistics, MeanWithStudentInterval) {
  // 1, 2, 3: mean 2, sd 1, half width 4.303 / sqrt(3) = 2.484339.
  const MeanEstimate estimate = mean_estimate({1.0, 2.0, 3.0});
  EXPECT_DOUBLE_EQ(estimate.mean, 2.0);
  EXPECT_DOUBLE_EQ(estimate.stddev, 1.0);
  EXPECT_NEAR(estimate.interval.low, 2.0 - 2.484339, 1e-6);
  EXPECT_NEAR(estimate.interval.high, 2.0 + 2.484339, 1e-6);
  const MeanEstimate single = mean_estimate({0.7});
  EXPECT_DOUBLE_EQ(single.interval.low, 0.7);
  EXPECT_DOUBLE_EQ(single.interval.high, 0.7);
}

TEST(EvalStatistics, DisjointIntervals) {
  EXPECT_TRUE(intervals_disjoint({0.0, 0.4}, {0.5, 0.9}));
  EXPECT_FALSE(intervals_disjoint({0.0, 0.5}, {0.5, 0.9}));
  EXPECT_FALSE(intervals_disjoint({0.2, 0.6}, {0.0, 1.0}));
}

}  // namespace
}  // namespace selm
