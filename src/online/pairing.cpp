#include "selm/online/pairing.hpp"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "selm/util/error.hpp"

namespace selm {

PairingDecision decide_pair(const Judgment& judgment) {
  PairingDecision decision;
  if (judgment.status == JudgmentStatus::abstained) {
    decision.outcome = PairingOutcome::abstained;
    return decision;
  }
  if (judgment.status != JudgmentStatus::ok || judgment.ranks.size() < 2) {
    decision.outcome = PairingOutcome::failed;
    return decision;
  }
  const auto& ranks = judgment.ranks;
  const std::int64_t best_rank = *std::min_element(ranks.begin(), ranks.end());
  const std::int64_t worst_rank = *std::max_element(ranks.begin(), ranks.end());
  if (best_rank == worst_rank) {
    decision.outcome = PairingOutcome::tie;
    return decision;
  }
  const auto count = static_cast<std::int64_t>(ranks.size());
  // Chosen: the lowest index with the best rank (the new response is index 0 under selm).
  for (std::int64_t index = 0; index < count; ++index) {
    if (ranks[static_cast<std::size_t>(index)] == best_rank) {
      decision.chosen = index;
      break;
    }
  }
  // Rejected: the highest index with the worst rank, so that under selm a dataset response is
  // rejected before the new one when they tie for worst.
  for (std::int64_t index = count - 1; index >= 0; --index) {
    if (ranks[static_cast<std::size_t>(index)] == worst_rank) {
      decision.rejected = index;
      break;
    }
  }
  decision.outcome = PairingOutcome::pair;
  return decision;
}

void PairingCounts::add(PairingOutcome outcome) {
  ++prompts;
  switch (outcome) {
    case PairingOutcome::pair: ++pairs; break;
    case PairingOutcome::tie: ++dropped_ties; break;
    case PairingOutcome::abstained: ++dropped_abstained; break;
    case PairingOutcome::failed: ++dropped_failed; break;
    case PairingOutcome::empty: ++dropped_empty; break;
  }
}

nlohmann::json PairingCounts::to_json() const {
  return {{"prompts", prompts},
          {"pairs", pairs},
          {"dropped_ties", dropped_ties},
          {"dropped_abstained", dropped_abstained},
          {"dropped_failed", dropped_failed},
          {"dropped_empty", dropped_empty}};
}

}  // namespace selm
