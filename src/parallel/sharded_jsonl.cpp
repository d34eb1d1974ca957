#include "selm/parallel/sharded_jsonl.hpp"

#include <algorithm>
#include <map>
#include <vector>

#include <nlohmann/json.hpp>

#include "selm/util/error.hpp"
#include "selm/util/files.hpp"

namespace selm {

namespace {

const std::string kShardSuffix = ".shard-";

std::vector<fs::path> shards_of(const fs::path& file) {
  std::vector<fs::path> shards;
  const fs::path folder = file.parent_path().empty() ? fs::path(".") : file.parent_path();
  if (!fs::exists(folder)) return shards;
  const std::string prefix = file.filename().string() + kShardSuffix;
  for (const auto& entry : fs::directory_iterator(folder)) {
    const std::string name = entry.path().filename().string();
    if (name.size() > prefix.size() && name.compare(0, prefix.size(), prefix) == 0) shards.push_back(entry.path());
  }
  std::sort(shards.begin(), shards.end());
  return shards;
}

// Adds the complete lines of `path` to `merged` by position; the first line of a position wins.
void collect_lines(const fs::path& path, const RecordPosition& position, std::map<std::int64_t, std::string>& merged) {
  const std::string text = read_file(path);
  std::size_t begin = 0;
  std::size_t line_number = 0;
  while (begin < text.size()) {
    const std::size_t end = text.find('\n', begin);
    if (end == std::string::npos) break;  // cut off by a crash
    ++line_number;
    const std::string line = text.substr(begin, end - begin);
    begin = end + 1;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    nlohmann::json record;
    try {
      record = nlohmann::json::parse(line);
    } catch (const nlohmann::json::exception& error) {
      throw_input_error(path.string(), line_number, std::string("invalid JSON: ") + error.what());
    }
    const std::optional<std::int64_t> at = position(record);
    if (at) merged.emplace(*at, line);
  }
}

}  // namespace

fs::path shard_path(const fs::path& file, int rank) {
  return fs::path(file.string() + kShardSuffix + std::to_string(rank));
}

fs::path rank_output_path(const fs::path& file, const ParallelContext& parallel) {
  return parallel.is_distributed() ? shard_path(file, parallel.rank) : file;
}

void merge_shards(const fs::path& file, const RecordPosition& position, const ParallelContext& parallel,
                  const std::string& stage) {
  parallel.barrier(stage + " (shards complete)");  // every rank has closed its shard
  if (parallel.writes_shared_artifacts()) {
    const std::vector<fs::path> shards = shards_of(file);
    if (!shards.empty()) {
      std::map<std::int64_t, std::string> merged;
      if (fs::exists(file)) collect_lines(file, position, merged);
      for (const fs::path& shard : shards) collect_lines(shard, position, merged);
      std::string text;
      for (const auto& [at, line] : merged) {
        (void)at;
        text += line;
        text += '\n';
      }
      write_file_atomic(file, text);
      // Only once the merged file is in place: a crash before this leaves shards whose records
      // the file holds already, and the next merge keeps one of each.
      for (const fs::path& shard : shards) fs::remove(shard);
    }
  }
  parallel.barrier(stage);
}

void remove_with_shards(const fs::path& file, const ParallelContext& parallel, const std::string& stage) {
  if (parallel.writes_shared_artifacts()) {
    for (const fs::path& shard : shards_of(file)) fs::remove(shard);
    fs::remove(file);
  }
  parallel.barrier(stage);
}

}  // namespace selm
