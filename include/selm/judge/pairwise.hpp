// Pure building blocks of pairwise LLM judging: prompt rendering, strict verdict parsing,
// position-debiased pair outcomes, ranking from pairwise wins, retry delays.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "selm/judge/judgment.hpp"

namespace selm {

// Replaces {prompt}, {response_a} and {response_b} in one pass (text inserted is not scanned
// again). Throws InputError when the template lacks one of them.
std::string render_pairwise_prompt(const std::string& prompt_template, const std::string& prompt,
                                   const std::string& response_a, const std::string& response_b);

enum class PairVerdict { first, second };  // A (shown first) or B (shown second) is better

// Strict: after trimming whitespace the reply must be exactly "A" or "B", optionally followed
// by one "."; anything else is nullopt (the judgment abstains).
std::optional<PairVerdict> parse_pair_verdict(const std::string& reply);

// Outcome of candidates (i, j) from the verdict with i shown first and the verdict with j shown
// first: 1 = i better, 0 = j better, 0.5 = tie (the verdict followed the position).
double pair_outcome(PairVerdict i_first, PairVerdict j_first);

// Judgment from outcomes[k] of pairs[k] = (i, j), i < j: each candidate's score is its wins
// (ties count 0.5). All-equal scores abstain (no preference).
Judgment judgment_from_pairwise(std::size_t num_candidates,
                                const std::vector<std::pair<std::size_t, std::size_t>>& pairs,
                                const std::vector<double>& outcomes);

// Delay before retry number `retry` (0-based): min(max, initial * 2^retry) scaled by a jitter
// factor in [0.5, 1] (`unit_random` in [0, 1)); a Retry-After value, when given, is used as is.
double retry_delay_seconds(std::int64_t retry, double initial_seconds, double max_seconds, double unit_random,
                           std::optional<double> retry_after_seconds);

// Retry-After as delay-seconds (a non-negative number); HTTP dates and garbage give nullopt.
std::optional<double> parse_retry_after(const std::string& value);

}  // namespace selm
