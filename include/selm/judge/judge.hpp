// The judge interface: ranks a batch of {prompt, candidates}.
//
// `rank` is the same for every judge (non-virtual): it calls the judge's `rank_batch`, stamps
// each judgment with the judge's id and config hash and tallies the statuses. Implementations
// count their backend requests, retries and latencies through `record_request`; all counters
// are safe to update from worker threads.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "selm/judge/judgment.hpp"

namespace selm {

struct JudgeStats {
  std::int64_t judgments = 0;        // judgments returned
  std::int64_t ok = 0;
  std::int64_t abstained = 0;
  std::int64_t failed = 0;
  std::int64_t cache_hits = 0;       // judgments served from the cache
  std::int64_t requests = 0;         // backend requests sent (HTTP requests, lines to a subprocess), retries included
  std::int64_t retries = 0;          // of which were retries
  std::int64_t answered = 0;         // of which got an answer (any HTTP status, a reply line)
  std::int64_t restarts = 0;         // subprocess restarts (command judge)
  double total_latency_seconds = 0;  // summed over answered requests

  double mean_latency_seconds() const;  // over answered requests
};

class Judge {
 public:
  virtual ~Judge() = default;

  // One judgment per request, in the same order. Never throws for a backend failure: that is a
  // failed judgment. Throws InputError only for misuse (e.g. an invalid request).
  std::vector<Judgment> rank(const std::vector<JudgeRequest>& batch);

  // Short name of the judge ("lexicon", "http:MODEL", "command:PROGRAM").
  virtual std::string id() const = 0;
  // Hash (16 hex digits) of the settings that decide the judge's verdicts.
  virtual std::string config_hash() const = 0;
  virtual JudgeStats stats() const;

 protected:
  virtual std::vector<Judgment> rank_batch(const std::vector<JudgeRequest>& batch) = 0;
  // Counts one backend request; `answered` adds its latency to the mean.
  void record_request(bool is_retry, bool answered, double latency_seconds);
  void record_restart();

  mutable std::mutex stats_mutex_;
  JudgeStats stats_;
};

}  // namespace selm
