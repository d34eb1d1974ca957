// Which config changes change a run's results: the check before `selm train` resumes a run
// directory with another config, and state.json's config_fingerprint.
#pragma once

#include <string>
#include <vector>

#include "selm/config/config.hpp"

namespace selm {

// Keys whose values differ between two configs, as "key: OLD -> NEW", ignoring keys that do
// not change results (threads, logging, judge timeouts and retries, cache folder, checkpoint
// cadence, batch sizes of generation and judging).
std::vector<std::string> result_deciding_differences(const Config& before, const Config& after);

// Hash of the result-deciding keys (state.json's config_fingerprint).
std::string config_fingerprint(const Config& config);

}  // namespace selm
