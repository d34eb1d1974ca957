// Builds the judge named by `judge.type`, behind the cache when `judge.cache_dir` is set.
#pragma once

#include <memory>

#include "selm/judge/judge.hpp"
#include "selm/judge/judge_config.hpp"

namespace selm {

struct JudgeBuildOptions {
  bool use_cache = true;  // false: bypass judge.cache_dir (`--no-cache`)
};

// Throws InputError naming the key for an unknown or unavailable type and for settings that
// only fail when the judge is built (missing API key variable, https without OpenSSL).
std::unique_ptr<Judge> make_judge(const JudgeConfig& config, const JudgeBuildOptions& options = {});

}  // namespace selm
