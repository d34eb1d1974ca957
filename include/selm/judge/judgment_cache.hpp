// Judgments stored by a hash of (judge id, config hash, prompt, candidates in order), so that
// a rerun of a round reuses them. One append-only JSONL file per judge config in the cache
// folder, flushed record by record; a record cut off by a crash is ignored on load. Only ok and
// abstained judgments are stored: a failure is retried on the next run.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>

#include "selm/judge/judge.hpp"
#include "selm/util/files.hpp"

namespace selm {

class JudgmentCache {
 public:
  JudgmentCache(const std::filesystem::path& folder, const std::string& judge_id, const std::string& config_hash);
  ~JudgmentCache();

  std::string key(const JudgeRequest& request) const;
  std::optional<Judgment> find(const JudgeRequest& request) const;
  // Stores ok and abstained judgments (others are ignored).
  void store(const JudgeRequest& request, const Judgment& judgment);
  const std::filesystem::path& file() const { return file_; }
  std::size_t size() const { return entries_.size(); }

 private:
  std::string judge_id_;
  std::string config_hash_;
  std::filesystem::path file_;
  std::unordered_map<std::string, Judgment> entries_;
  std::unique_ptr<JsonlWriter> writer_;
};

// A judge in front of a cache: hits are answered from it, misses go to the inner judge and are
// stored. Same id and config hash as the inner judge.
class CachedJudge : public Judge {
 public:
  CachedJudge(std::unique_ptr<Judge> inner, const std::filesystem::path& folder);
  std::string id() const override { return inner_->id(); }
  std::string config_hash() const override { return inner_->config_hash(); }
  JudgeStats stats() const override;
  const JudgmentCache& cache() const { return cache_; }

 protected:
  std::vector<Judgment> rank_batch(const std::vector<JudgeRequest>& batch) override;

 private:
  std::unique_ptr<Judge> inner_;
  JudgmentCache cache_;
};

}  // namespace selm
