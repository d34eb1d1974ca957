// Judging into an appendable JSONL file (one judgment per line, judgment_to_json), the unit the
// online rounds and evaluation resume from: requests whose id is already in the file are not
// judged again.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "selm/judge/judge.hpp"

namespace selm {

// Judges the requests missing from `out` in batches of `batch_size`, appending each batch's
// judgments as they come, and returns one judgment per request in request order (from the file
// or fresh). Request ids must be unique. Progress is shown under `label`.
std::vector<Judgment> judge_to_file(Judge& judge, const std::vector<JudgeRequest>& requests,
                                    const std::filesystem::path& out, std::int64_t batch_size,
                                    const std::string& label = "judge");

// The judgments of `requests` from a complete judgment file, in request order, without a judge:
// InputError naming the file for a malformed record or a request that the file lacks.
std::vector<Judgment> read_judgment_file(const std::filesystem::path& path, const std::vector<JudgeRequest>& requests);

// "ok N, abstained N, failed N" of the judge's counters.
std::string judge_status_text(const JudgeStats& stats);

}  // namespace selm
