#include "selm/judge/judge_file.hpp"

#include <algorithm>
#include <map>

#include <nlohmann/json.hpp>

#include "selm/parallel/shared_artifacts.hpp"
#include "selm/util/error.hpp"
#include "selm/util/files.hpp"
#include "selm/util/progress.hpp"

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

}  // namespace

std::vector<Judgment> read_judgment_file(const std::filesystem::path& path, const std::vector<JudgeRequest>& requests) {
  std::map<std::string, Judgment> done = judgments_by_id(path);
  std::vector<Judgment> ordered;
  ordered.reserve(requests.size());
  for (const auto& request : requests) {
    const auto found = done.find(request.id);
    if (found == done.end()) throw InputError(path.string() + ": no judgment for request " + request.id);
    ordered.push_back(found->second);
  }
  return ordered;
}

std::vector<Judgment> judge_to_file(Judge& judge, const std::vector<JudgeRequest>& requests,
                                    const std::filesystem::path& out, const JudgeFileOptions& options) {
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
    SharedArtifacts::Jsonl writer(SharedArtifacts(options.parallel), out);
    Progress progress(options.label, static_cast<std::int64_t>(pending.size()), "prompts", options.parallel);
    const std::size_t step = static_cast<std::size_t>(std::max<std::int64_t>(1, options.batch_size));
    for (std::size_t begin = 0; begin < pending.size(); begin += step) {
      const std::size_t end = std::min(pending.size(), begin + step);
      const std::vector<JudgeRequest> batch(pending.begin() + static_cast<std::ptrdiff_t>(begin),
                                            pending.begin() + static_cast<std::ptrdiff_t>(end));
      for (Judgment& judgment : judge.rank(batch)) {
        writer.write(judgment_to_json(judgment));
        done[judgment.id] = std::move(judgment);
      }
      progress.advance(static_cast<std::int64_t>(batch.size()), status());
    }
    progress.finish(status());
  }

  std::vector<Judgment> ordered;
  ordered.reserve(requests.size());
  for (const auto& request : requests) ordered.push_back(done.at(request.id));
  return ordered;
}

}  // namespace selm
