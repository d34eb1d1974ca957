// The appendable JSONL output of a stage that the ranks of a job share out (generation,
// judging): each rank appends its records to a shard of its own, "<file>.shard-<rank>", and
// rank 0 merges the shards into the file atomically, in the order one process would have
// written it, at the end of the stage and before a resumed stage starts. A job resumed with
// another world size (or as one process) first folds whatever shards an earlier start left, so
// the merged file is what carries over, never a shard. Torch-free.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "selm/parallel/parallel_context.hpp"

namespace selm {

namespace fs = std::filesystem;

// A record's place in the merged file (smaller first); nullopt for a record that does not
// belong there (it is dropped, as a stale record of a changed request list is).
using RecordPosition = std::function<std::optional<std::int64_t>(const nlohmann::json& record)>;

fs::path shard_path(const fs::path& file, int rank);

// The file a rank appends this stage's records to: `file` itself for one process, its shard
// otherwise.
fs::path rank_output_path(const fs::path& file, const ParallelContext& parallel);

// Once every rank has come (a barrier), rank 0 merges `file` and every shard of it present into
// `file` (atomically), one record per position in position order, then removes the shards; the
// other ranks wait for it at a second barrier. Both are named after `stage`. With no shard
// present nothing is rewritten. A record cut off by a crash (an unterminated last line) is
// dropped; a malformed complete line is an InputError naming the file and line.
void merge_shards(const fs::path& file, const RecordPosition& position, const ParallelContext& parallel,
                  const std::string& stage);

// Rank 0 removes `file` and its shards (a stage started afresh); the others wait at `stage`.
void remove_with_shards(const fs::path& file, const ParallelContext& parallel, const std::string& stage);

}  // namespace selm
