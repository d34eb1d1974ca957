// Judging into an appendable JSONL file (one judgment per line, judgment_to_json), the unit the
// online rounds and evaluation resume from: requests whose id is already in the file are not
// judged again.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "selm/judge/judge.hpp"
#include "selm/parallel/parallel_context.hpp"

namespace selm {

struct JudgeFileOptions {
  std::int64_t batch_size = 32;  // requests handed to the judge at once (judge.batch_size)
  std::string label = "judge";   // of the progress display
  ParallelContext parallel;      // the rank that writes shared artifacts appends the judgments
};

// Judges the requests missing from `out` in batches of options.batch_size, appending each
// batch's judgments as they come, and returns one judgment per request in request order (from
// the file or fresh). Request ids must be unique.
std::vector<Judgment> judge_to_file(Judge& judge, const std::vector<JudgeRequest>& requests,
                                    const std::filesystem::path& out, const JudgeFileOptions& options);

// The judgments of `requests` from a complete judgment file, in request order, without a judge:
// InputError naming the file for a malformed record or a request that the file lacks.
std::vector<Judgment> read_judgment_file(const std::filesystem::path& path, const std::vector<JudgeRequest>& requests);

// "ok N, abstained N, failed N" of the judge's counters.
std::string judge_status_text(const JudgeStats& stats);

}  // namespace selm
