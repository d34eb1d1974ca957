#include "selm/judge/judge.hpp"

#include "selm/util/error.hpp"

namespace selm {

double JudgeStats::mean_latency_seconds() const {
  return answered > 0 ? total_latency_seconds / static_cast<double>(answered) : 0.0;
}

std::vector<Judgment> Judge::rank(const std::vector<JudgeRequest>& batch) {
  for (const auto& request : batch) {
    if (request.candidates.empty()) throw InputError("request '" + request.id + "': no candidates to rank");
  }
  std::vector<Judgment> judgments = rank_batch(batch);
  if (judgments.size() != batch.size()) {
    throw std::logic_error(id() + " returned " + std::to_string(judgments.size()) + " judgments for " +
                           std::to_string(batch.size()) + " requests");
  }
  const std::string judge_id = id();
  const std::string hash = config_hash();
  std::lock_guard<std::mutex> lock(stats_mutex_);
  for (std::size_t i = 0; i < batch.size(); ++i) {
    Judgment& judgment = judgments[i];
    judgment.id = batch[i].id;
    judgment.judge_id = judge_id;
    judgment.config_hash = hash;
    ++stats_.judgments;
    switch (judgment.status) {
      case JudgmentStatus::ok: ++stats_.ok; break;
      case JudgmentStatus::abstained: ++stats_.abstained; break;
      case JudgmentStatus::failed: ++stats_.failed; break;
    }
    if (judgment.cached) ++stats_.cache_hits;
  }
  return judgments;
}

JudgeStats Judge::stats() const {
  std::lock_guard<std::mutex> lock(stats_mutex_);
  return stats_;
}

void Judge::record_request(bool is_retry, bool answered, double latency_seconds) {
  std::lock_guard<std::mutex> lock(stats_mutex_);
  ++stats_.requests;
  if (is_retry) ++stats_.retries;
  if (answered) {
    ++stats_.answered;
    stats_.total_latency_seconds += latency_seconds;
  }
}

void Judge::record_restart() {
  std::lock_guard<std::mutex> lock(stats_mutex_);
  ++stats_.restarts;
}

}  // namespace selm
