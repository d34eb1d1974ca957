// metrics.jsonl's line of a finished round, gathered from the round's files (eval.json,
// pairing.json, train_metrics.jsonl) and state.json's timings.
#pragma once

#include <cstdint>

#include "selm/config/config.hpp"
#include "selm/run/metrics_line.hpp"
#include "selm/run/run_paths.hpp"
#include "selm/run/run_state.hpp"

namespace selm {

// `round_config`: the round's settings (its loss, alpha, beta and learning rate are recorded).
MetricsLine round_metrics_line(std::int64_t round, const Config& round_config, const RoundPaths& paths,
                               const RunState& state);

}  // namespace selm
