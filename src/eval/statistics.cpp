#include "selm/eval/statistics.hpp"

#include <algorithm>
#include <cmath>

namespace selm {

namespace {

constexpr double kNormal975 = 1.959963984540054;  // 97.5% quantile of the standard normal

}  // namespace

double student_t_975(std::int64_t degrees_of_freedom) {
  // 97.5% quantiles of Student's t for 1..30 degrees of freedom (standard tables).
  static const double kTable[] = {12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
                                  2.201,  2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
                                  2.080,  2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042};
  if (degrees_of_freedom < 1) degrees_of_freedom = 1;
  if (degrees_of_freedom <= 30) return kTable[degrees_of_freedom - 1];
  const double z = kNormal975;
  const double n = static_cast<double>(degrees_of_freedom);
  const double z3 = z * z * z;
  const double z5 = z3 * z * z;
  return z + (z3 + z) / (4 * n) + (5 * z5 + 16 * z3 + 3 * z) / (96 * n * n);
}

WinRate win_rate(std::int64_t wins, std::int64_t ties, std::int64_t losses) {
  WinRate result;
  result.wins = wins;
  result.ties = ties;
  result.losses = losses;
  const double n = static_cast<double>(result.decided());
  if (n <= 0) {
    result.rate = 0.5;
    result.interval = {0.0, 1.0};
    return result;
  }
  const double p = (static_cast<double>(wins) + 0.5 * static_cast<double>(ties)) / n;
  const double z = kNormal975;
  const double z2 = z * z;
  const double centre = (p + z2 / (2 * n)) / (1 + z2 / n);
  const double half_width = z / (1 + z2 / n) * std::sqrt(p * (1 - p) / n + z2 / (4 * n * n));
  result.rate = p;
  result.interval = {std::max(0.0, centre - half_width), std::min(1.0, centre + half_width)};
  return result;
}

WinRate win_rate(const std::vector<Outcome>& outcomes) {
  std::int64_t wins = 0, ties = 0, losses = 0;
  for (Outcome outcome : outcomes) {
    if (outcome == Outcome::win) ++wins;
    else if (outcome == Outcome::tie) ++ties;
    else ++losses;
  }
  return win_rate(wins, ties, losses);
}

MeanEstimate mean_estimate(const std::vector<double>& values) {
  MeanEstimate result;
  result.count = static_cast<std::int64_t>(values.size());
  if (values.empty()) return result;
  double sum = 0;
  for (double value : values) sum += value;
  result.mean = sum / static_cast<double>(values.size());
  result.interval = {result.mean, result.mean};
  if (values.size() < 2) return result;
  double squares = 0;
  for (double value : values) squares += (value - result.mean) * (value - result.mean);
  result.stddev = std::sqrt(squares / static_cast<double>(values.size() - 1));
  const double half_width =
      student_t_975(result.count - 1) * result.stddev / std::sqrt(static_cast<double>(values.size()));
  result.interval = {result.mean - half_width, result.mean + half_width};
  return result;
}

bool intervals_disjoint(const Interval& a, const Interval& b) { return a.high < b.low || b.high < a.low; }

}  // namespace selm
