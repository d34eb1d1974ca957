// The settings of one online round: the run's config.yaml with the round's overrides and the
// round's own seeds, and its enum-like settings parsed once.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "selm/config/config.hpp"
#include "selm/online/train_prompts.hpp"

namespace selm {

struct RoundSettings {
  Config config;  // round_overrides applied, generate/train seeds offset
};

// run.seed varies the whole online procedure (the seeds of a sweep), and each round samples and
// shuffles afresh: with prompt_selection all, the same prompt gets new draws. Round 0 (offline,
// nothing generated) shares its offset with the baseline's sampled responses.
std::int64_t round_seed_offset(std::int64_t run_seed, std::int64_t round);

// Round `round`'s settings from `config_file` (the run's config.yaml, equal to `run_config`):
// train.loss dpo for the offline round 0, then the round's item of online.round_overrides
// (item 0 is `first_round`); seeds are run_config's plus round_seed_offset.
RoundSettings load_round_settings(const Config& run_config, const std::filesystem::path& config_file,
                                  std::int64_t round, std::int64_t first_round);

}  // namespace selm
