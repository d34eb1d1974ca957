// Pairing: how a judgment of a prompt's candidates becomes one preference pair (or none).
//
// selm (SELM.md, Algorithm 1): candidates are [new response, dataset chosen, dataset rejected];
//   the best becomes chosen and the worst rejected. Ties favour the new response: it is chosen
//   when it shares the best rank, and a dataset response is rejected before it when they share
//   the worst rank. The new response is always kept as y_ref.
// best_worst: candidates are n samples of the policy; the best (lowest index among equals) is
//   chosen, the worst (highest index among equals) rejected; sample 0 is y_ref.
// A judgment that is not ok gives no pair; neither does one whose candidates all share a rank.
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "selm/config/enum_names.hpp"
#include "selm/judge/judgment.hpp"

namespace selm {

enum class PairingStrategy { selm, best_worst };

template <>
struct EnumNames<PairingStrategy> {
  static constexpr EnumName<PairingStrategy> entries[] = {{PairingStrategy::selm, "selm"},
                                                           {PairingStrategy::best_worst, "best_worst"}};
};

// empty: the pair would hold an empty response (the model ended at once), which a preference
// record cannot carry.
enum class PairingOutcome { pair, tie, abstained, failed, empty };

struct PairingDecision {
  PairingOutcome outcome = PairingOutcome::failed;
  std::int64_t chosen = -1;    // candidate index (pair only)
  std::int64_t rejected = -1;  // candidate index (pair only)
};

// The same rule serves both strategies; they differ in what the candidates are.
PairingDecision decide_pair(const Judgment& judgment);

// Per-round tally of pairing decisions (round-<t>/pairing.json).
struct PairingCounts {
  std::int64_t prompts = 0;
  std::int64_t pairs = 0;
  std::int64_t dropped_ties = 0;
  std::int64_t dropped_abstained = 0;
  std::int64_t dropped_failed = 0;
  std::int64_t dropped_empty = 0;

  void add(PairingOutcome outcome);
  nlohmann::json to_json() const;
};

}  // namespace selm
