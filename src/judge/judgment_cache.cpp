#include "selm/judge/judgment_cache.hpp"

#include <nlohmann/json.hpp>

#include "selm/util/error.hpp"
#include "selm/util/log.hpp"
#include "selm/util/sha256.hpp"

namespace selm {

JudgmentCache::JudgmentCache(const std::filesystem::path& folder, const std::string& judge_id,
                             const std::string& config_hash)
    : judge_id_(judge_id), config_hash_(config_hash), file_(folder / ("judgments-" + config_hash + ".jsonl")) {
  std::filesystem::create_directories(folder);
  if (std::filesystem::exists(file_)) {
    for (const auto& [line, record] : read_jsonl(file_, /*tolerate_partial_tail=*/true)) {
      try {
        entries_[record.at("key").get<std::string>()] = judgment_from_json(record.at("judgment"));
      } catch (const std::exception& e) {
        throw InputError(location_prefix(file_.string(), line) + "bad cache record: " + e.what());
      }
    }
    log::debug("judgment cache " + file_.string() + ": " + std::to_string(entries_.size()) + " entries");
  }
  // Shared: the runs of a sweep (and the ranks of a job) append to the same cache.
  writer_ = std::make_unique<JsonlWriter>(file_, /*append=*/true, /*shared=*/true);
}

JudgmentCache::~JudgmentCache() = default;

std::string JudgmentCache::key(const JudgeRequest& request) const {
  // A JSON array is an unambiguous encoding of the parts (no separator can be forged).
  return sha256_hex(nlohmann::json({judge_id_, config_hash_, request.prompt, request.candidates}).dump());
}

std::optional<Judgment> JudgmentCache::find(const JudgeRequest& request) const {
  auto it = entries_.find(key(request));
  if (it == entries_.end()) return std::nullopt;
  Judgment judgment = it->second;
  judgment.cached = true;
  return judgment;
}

void JudgmentCache::store(const JudgeRequest& request, const Judgment& judgment) {
  if (judgment.status == JudgmentStatus::failed) return;  // transient: try again next run
  const std::string request_key = key(request);
  if (entries_.count(request_key) == 1) return;
  writer_->write({{"key", request_key}, {"judgment", judgment_to_json(judgment)}});
  entries_[request_key] = judgment;
}

CachedJudge::CachedJudge(std::unique_ptr<Judge> inner, const std::filesystem::path& folder)
    : inner_(std::move(inner)), cache_(folder, inner_->id(), inner_->config_hash()) {}

JudgeStats CachedJudge::stats() const {
  JudgeStats combined = inner_->stats();
  const JudgeStats own = Judge::stats();
  combined.judgments = own.judgments;
  combined.ok = own.ok;
  combined.abstained = own.abstained;
  combined.failed = own.failed;
  combined.cache_hits = own.cache_hits;
  return combined;
}

std::vector<Judgment> CachedJudge::rank_batch(const std::vector<JudgeRequest>& batch) {
  std::vector<Judgment> judgments(batch.size());
  std::vector<JudgeRequest> misses;
  std::vector<std::size_t> miss_positions;
  for (std::size_t i = 0; i < batch.size(); ++i) {
    if (auto hit = cache_.find(batch[i])) {
      judgments[i] = std::move(*hit);
    } else {
      misses.push_back(batch[i]);
      miss_positions.push_back(i);
    }
  }
  if (!misses.empty()) {
    std::vector<Judgment> fresh = inner_->rank(misses);
    for (std::size_t k = 0; k < misses.size(); ++k) {
      cache_.store(misses[k], fresh[k]);
      judgments[miss_positions[k]] = std::move(fresh[k]);
    }
  }
  return judgments;
}

}  // namespace selm
