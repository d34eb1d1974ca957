#include "selm/run/pairing_counts.hpp"

#include <nlohmann/json.hpp>

#include "selm/run/json_fields.hpp"
#include "selm/util/error.hpp"
#include "selm/util/files.hpp"

namespace selm {

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

PairingCounts read_pairing_counts(const std::filesystem::path& path) {
  const std::string where = location_prefix(path.string());
  const nlohmann::json value = read_json_file(path);
  if (!value.is_object()) throw InputError(where + "expected a JSON object");
  PairingCounts counts;
  counts.prompts = count_or_zero(value, "prompts", where);
  counts.pairs = count_or_zero(value, "pairs", where);
  counts.dropped_ties = count_or_zero(value, "dropped_ties", where);
  counts.dropped_abstained = count_or_zero(value, "dropped_abstained", where);
  counts.dropped_failed = count_or_zero(value, "dropped_failed", where);
  counts.dropped_empty = count_or_zero(value, "dropped_empty", where);
  return counts;
}

void write_pairing_counts(const SharedArtifacts& artifacts,
                          const std::filesystem::path& path, const PairingCounts& counts) {
  artifacts.write_file(path, counts.to_json().dump(2) + "\n");
}

}  // namespace selm
