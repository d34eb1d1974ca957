// round-<t>/pairing.json: how the round's judged prompts became preference pairs, or why not.
#pragma once

#include <cstdint>
#include <filesystem>

#include <nlohmann/json_fwd.hpp>

#include "selm/parallel/shared_artifacts.hpp"

namespace selm {

// empty: the pair would hold an empty response (the model ended at once), which a preference
// record cannot carry.
enum class PairingOutcome { pair, tie, abstained, failed, empty };

// Per-round tally of pairing outcomes.
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

// InputError naming the file and key for a malformed pairing.json.
PairingCounts read_pairing_counts(const std::filesystem::path& path);
void write_pairing_counts(const SharedArtifacts& artifacts,
                          const std::filesystem::path& path, const PairingCounts& counts);

}  // namespace selm
