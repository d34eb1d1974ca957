// The records of a generation file (generation_file.hpp writes them), read without the model:
// the judge and pairing stages, and the tools that inspect a run, only read them.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace selm {

struct GenerationRecord {
  std::int64_t prompt_index = 0;
  std::int64_t sample_index = 0;
  std::string response;
  std::vector<std::int64_t> token_ids;
  double logprob = 0.0;
  std::string finish_reason;
};

// The records of a generation file ordered by (prompt_index, sample_index), one per pair (a
// partial last line is ignored). InputError naming FILE:LINE for a malformed record.
std::vector<GenerationRecord> read_generation_file(const std::filesystem::path& path);

}  // namespace selm
