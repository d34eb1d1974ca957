// Summary statistics with 95% confidence intervals, as reported by evaluation, reports and
// run comparisons. All intervals are two-sided at 95%.
#pragma once

#include <cstdint>
#include <vector>

namespace selm {

struct Interval {
  double low = 0.0;
  double high = 0.0;
};

// Outcome of one judged comparison of a policy response against a baseline response.
enum class Outcome { win, tie, loss };

struct WinRate {
  std::int64_t wins = 0;
  std::int64_t ties = 0;
  std::int64_t losses = 0;
  double rate = 0.0;   // (wins + ties / 2) / decided; 0.5 when nothing was decided
  Interval interval;   // Wilson score interval of `rate` over the decided comparisons

  std::int64_t decided() const { return wins + ties + losses; }
};

// Win rate with ties counted as half a win. The interval is Wilson's score interval taken at
// the observed rate with n = wins + ties + losses: it stays inside [0, 1] and is sensible at
// rates of 0 or 1 and at small n. Counting a tie as a half win with the variance of a coin flip
// makes the interval slightly wider than necessary when ties are common (never narrower).
WinRate win_rate(std::int64_t wins, std::int64_t ties, std::int64_t losses);
WinRate win_rate(const std::vector<Outcome>& outcomes);

struct MeanEstimate {
  std::int64_t count = 0;
  double mean = 0.0;
  double stddev = 0.0;  // sample standard deviation (n - 1); 0 when count < 2
  Interval interval;    // mean +- t(0.975, n - 1) * stddev / sqrt(n); [mean, mean] when count < 2
};

// Mean with a Student-t 95% interval (the right width for a handful of seeds as well as for
// hundreds of prompts).
MeanEstimate mean_estimate(const std::vector<double>& values);

// Two-sided 95% quantile of Student's t with `degrees_of_freedom` >= 1 (exact table up to 30,
// then the Cornish-Fisher expansion around the normal quantile, error < 1e-3).
double student_t_975(std::int64_t degrees_of_freedom);

// True when the two intervals share no point.
bool intervals_disjoint(const Interval& a, const Interval& b);

}  // namespace selm
