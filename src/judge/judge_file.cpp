#include "selm/judge/judge_file.hpp"

#include <algorithm>
#include <map>
#include <optional>

#include <nlohmann/json.hpp>

#include "selm/parallel/sharded_jsonl.hpp"
#include "selm/util/error.hpp"
#include "selm/util/files.hpp"
#include "selm/util/progress.hpp"
#include "selm/util/stop_request.hpp"

namespace selm {

std::string judge_status_text(const JudgeStats& stats) {
  return "ok " + std::to_string(stats.ok) + ", abstained " + std::to_string(stats.abstained) + ", failed " +
         std::to_string(stats.failed);
}

namespace {

// The judgments of a judgment file by request id (a record cut off by a crash is ignored).
std::map<std::string, Judgment> judgments_by_id(const std::filesystem::path& path) {
  std::map<std::string, Judgment> done;
  for (const auto& [line, record] : read_jsonl(path, /*tolerate_partial_tail=*/true)) {
    try {
      Judgment judgment = judgment_from_json(record);
      done[judgment.id] = std::move(judgment);
    } catch (const InputError& error) {
      throw_input_error(path.string(), line, error.what());
    }
  }
  return done;
}

// InputError unless an ok judgment ranks exactly the request's candidates: pairing and
// evaluation index the candidates with its order and ranks.
void check_judgment_fits(const Judgment& judgment, const JudgeRequest& request, const std::filesystem::path& path) {
  if (!judgment.is_ok()) return;
  const std::size_t n = request.candidates.size();
  const auto fail = [&](const std::string& what) {
    throw InputError(path.string() + ": judgment of request " + request.id + " (" + std::to_string(n) +
                     " candidates): " + what);
  };
  if (judgment.order.size() != n || judgment.ranks.size() != n) fail("'order' and 'ranks' must have one entry per candidate");
  std::vector<bool> seen(n, false);
  for (const std::int64_t index : judgment.order) {
    if (index < 0 || index >= static_cast<std::int64_t>(n) || seen[static_cast<std::size_t>(index)]) {
      fail("'order' must be a permutation of the candidate indices");
    }
    seen[static_cast<std::size_t>(index)] = true;
  }
  for (const std::int64_t rank : judgment.ranks) {
    if (rank < 1 || rank > static_cast<std::int64_t>(n)) fail("'ranks' must be in 1.." + std::to_string(n));
  }
  if (judgment.scores && judgment.scores->size() != n) fail("'scores' must have one entry per candidate");
}

}  // namespace

std::vector<Judgment> read_judgment_file(const std::filesystem::path& path, const std::vector<JudgeRequest>& requests) {
  std::map<std::string, Judgment> done = judgments_by_id(path);
  std::vector<Judgment> ordered;
  ordered.reserve(requests.size());
  for (const auto& request : requests) {
    const auto found = done.find(request.id);
    if (found == done.end()) throw InputError(path.string() + ": no judgment for request " + request.id);
    check_judgment_fits(found->second, request, path);
    ordered.push_back(found->second);
  }
  return ordered;
}

std::vector<Judgment> judge_to_file(Judge& judge, const std::vector<JudgeRequest>& requests,
                                    const std::filesystem::path& out, const JudgeFileOptions& options) {
  // A job's ranks share the batches out (batch k of the pending requests to rank k mod N); rank
  // 0 merges their shards in request order, the file one process writes.
  const ParallelContext& parallel = options.parallel;
  std::map<std::string, std::int64_t> request_position;
  for (const auto& request : requests) {
    request_position.emplace(request.id, static_cast<std::int64_t>(request_position.size()));
  }
  const RecordPosition position = [&](const nlohmann::json& record) -> std::optional<std::int64_t> {
    const auto id = record.find("id");
    if (id == record.end() || !id->is_string()) return std::nullopt;
    const auto found = request_position.find(id->get<std::string>());
    if (found == request_position.end()) return std::nullopt;
    return found->second;
  };
  merge_shards(out, position, parallel, options.label + ": merging the shards of an earlier start");

  std::map<std::string, Judgment> done;
  if (std::filesystem::exists(out)) done = judgments_by_id(out);
  std::vector<JudgeRequest> pending;
  for (const auto& request : requests) {
    if (done.count(request.id) == 0) pending.push_back(request);
  }

  if (!pending.empty()) {
    // The judge may have served earlier calls: show this call's counts only.
    const JudgeStats before = judge.stats();
    auto status = [&judge, &before] {
      JudgeStats now = judge.stats();
      now.ok -= before.ok;
      now.abstained -= before.abstained;
      now.failed -= before.failed;
      return judge_status_text(now);
    };
    const std::size_t step = static_cast<std::size_t>(std::max<std::int64_t>(1, options.batch_size));
    std::int64_t owned = 0;
    for (std::size_t begin = 0; begin < pending.size(); begin += step) {
      if (parallel.owns(static_cast<std::int64_t>(begin / step))) {
        owned += static_cast<std::int64_t>(std::min(pending.size(), begin + step) - begin);
      }
    }
    JsonlWriter writer(rank_output_path(out, parallel));
    Progress progress(options.label, owned, "prompts", parallel);
    for (std::size_t begin = 0; begin < pending.size(); begin += step) {
      if (!parallel.owns(static_cast<std::int64_t>(begin / step))) continue;
      const std::size_t end = std::min(pending.size(), begin + step);
      const std::vector<JudgeRequest> batch(pending.begin() + static_cast<std::ptrdiff_t>(begin),
                                            pending.begin() + static_cast<std::ptrdiff_t>(end));
      for (Judgment& judgment : judge.rank(batch)) {
        writer.write(judgment_to_json(judgment));
        done[judgment.id] = std::move(judgment);
      }
      progress.advance(static_cast<std::int64_t>(batch.size()), status());
      if (stop_requested()) {
        throw StopRequested(options.label + ": stopped by " + stop_signal_name() + "; " + out.string() +
                            " keeps the judged batches; rerun the same command to resume");
      }
    }
    progress.finish(status());
  }
  if (parallel.is_distributed()) {
    merge_shards(out, position, parallel, options.label + ": merging the ranks' shards");
    done = judgments_by_id(out);
  }

  std::vector<Judgment> ordered;
  ordered.reserve(requests.size());
  for (const auto& request : requests) {
    const Judgment& judgment = done.at(request.id);
    check_judgment_fits(judgment, request, out);  // a resumed file's judgments come from disk
    ordered.push_back(judgment);
  }
  return ordered;
}

}  // namespace selm
