// What a judge is asked (a prompt and its candidate responses) and what it answers.
//
// A judgment either decides (status ok: a full ranking of the candidates) or says why it did
// not: `abstained` when the judge could not tell (unparseable verdict, verdicts that flip with
// the order), `failed` when something broke (network, crashed process). Only ok judgments may
// become training pairs.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace selm {

struct JudgeRequest {
  std::string id;                       // caller's id (input "id", or the record's index)
  std::string prompt;
  std::vector<std::string> candidates;  // responses to rank, in input order
};

enum class JudgmentStatus { ok, abstained, failed };

std::string to_string(JudgmentStatus status);
JudgmentStatus judgment_status_from_string(const std::string& text);  // throws InputError

struct Judgment {
  std::string id;                       // the request's id
  JudgmentStatus status = JudgmentStatus::failed;
  std::string reason;                   // why it abstained or failed; empty when ok
  std::vector<std::int64_t> order;      // candidate indices, best first (ok only)
  std::vector<std::int64_t> ranks;      // rank of each candidate, 1 = best; ties share a rank (ok only)
  std::optional<std::vector<double>> scores;  // per candidate, higher = better, when the judge gives them
  std::string judge_id;                 // e.g. "lexicon", "http:gpt-4o-mini"
  std::string config_hash;              // hash of the judge's deciding settings
  bool cached = false;                  // served from the cache (not written to JSONL)

  bool is_ok() const { return status == JudgmentStatus::ok; }
};

// A decided judgment from per-candidate scores (higher = better). Order is by score, ties
// broken by input index; equal scores share a rank ("1224" ranking).
Judgment judgment_from_scores(const std::vector<double>& scores);
// A decided judgment from an order best-first (a permutation of 0..n-1); no ties. Throws
// InputError when `order` is not a permutation of 0..n-1.
Judgment judgment_from_order(const std::vector<std::int64_t>& order, std::size_t num_candidates);
Judgment abstained_judgment(const std::string& reason);
Judgment failed_judgment(const std::string& reason);

// JSONL record: {"id", "judge", "config_hash", "status", "reason"?, "order"?, "ranks"?, "scores"?}.
nlohmann::json judgment_to_json(const Judgment& judgment);
// Inverse of judgment_to_json; throws InputError naming the key on a malformed record.
Judgment judgment_from_json(const nlohmann::json& record);

// Reads candidates JSONL: {"id"?, "prompt": str, "candidates": [str, ...]} per line. Bad lines
// are InputErrors "FILE:LINE: key 'K': ...". Records without "id" get their 0-based index.
std::vector<JudgeRequest> read_judge_requests(const std::filesystem::path& path);

}  // namespace selm
