#include "selm/judge/judgment.hpp"

#include <algorithm>
#include <map>
#include <numeric>

#include <nlohmann/json.hpp>

#include "selm/util/error.hpp"
#include "selm/util/files.hpp"

namespace selm {

std::string to_string(JudgmentStatus status) {
  switch (status) {
    case JudgmentStatus::ok: return "ok";
    case JudgmentStatus::abstained: return "abstained";
    case JudgmentStatus::failed: return "failed";
  }
  return "failed";
}

JudgmentStatus judgment_status_from_string(const std::string& text) {
  if (text == "ok") return JudgmentStatus::ok;
  if (text == "abstained") return JudgmentStatus::abstained;
  if (text == "failed") return JudgmentStatus::failed;
  throw InputError("key 'status': must be ok, abstained or failed, got '" + text + "'");
}

Judgment judgment_from_scores(const std::vector<double>& scores) {
  Judgment judgment;
  judgment.status = JudgmentStatus::ok;
  const std::size_t n = scores.size();
  judgment.order.resize(n);
  std::iota(judgment.order.begin(), judgment.order.end(), 0);
  std::stable_sort(judgment.order.begin(), judgment.order.end(),
                   [&](std::int64_t a, std::int64_t b) { return scores[a] > scores[b]; });
  // Competition ranking: a candidate's rank is 1 + the number of strictly better candidates.
  judgment.ranks.assign(n, 1);
  for (std::size_t position = 1; position < n; ++position) {
    const auto current = judgment.order[position];
    const auto previous = judgment.order[position - 1];
    judgment.ranks[current] = scores[current] == scores[previous] ? judgment.ranks[previous]
                                                                  : static_cast<std::int64_t>(position) + 1;
  }
  judgment.scores = scores;
  return judgment;
}

Judgment judgment_from_order(const std::vector<std::int64_t>& order, std::size_t num_candidates) {
  if (order.size() != num_candidates) {
    throw InputError("ranking has " + std::to_string(order.size()) + " entries for " +
                     std::to_string(num_candidates) + " candidates");
  }
  Judgment judgment;
  judgment.status = JudgmentStatus::ok;
  judgment.order = order;
  judgment.ranks.assign(num_candidates, 0);
  for (std::size_t position = 0; position < order.size(); ++position) {
    const std::int64_t index = order[position];
    if (index < 0 || index >= static_cast<std::int64_t>(num_candidates) || judgment.ranks[index] != 0) {
      throw InputError("ranking is not a permutation of 0.." + std::to_string(num_candidates - 1));
    }
    judgment.ranks[index] = static_cast<std::int64_t>(position) + 1;
  }
  return judgment;
}

namespace {

// Reasons quote what a judge sent (a server's body, a process's reply line), which need not be
// UTF-8 and may be cut mid-character; the judgments file is JSON, whose writer throws on invalid
// UTF-8 and would end the run. Invalid bytes become U+FFFD.
std::string valid_utf8(const std::string& text) {
  const std::string quoted = nlohmann::json(text).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return nlohmann::json::parse(quoted).get<std::string>();
}

}  // namespace

Judgment abstained_judgment(const std::string& reason) {
  Judgment judgment;
  judgment.status = JudgmentStatus::abstained;
  judgment.reason = valid_utf8(reason);
  return judgment;
}

Judgment failed_judgment(const std::string& reason) {
  Judgment judgment;
  judgment.status = JudgmentStatus::failed;
  judgment.reason = valid_utf8(reason);
  return judgment;
}

nlohmann::json judgment_to_json(const Judgment& judgment) {
  nlohmann::json record;
  record["id"] = judgment.id;
  record["judge"] = judgment.judge_id;
  record["config_hash"] = judgment.config_hash;
  record["status"] = to_string(judgment.status);
  if (!judgment.reason.empty()) record["reason"] = judgment.reason;
  if (judgment.is_ok()) {
    record["order"] = judgment.order;
    record["ranks"] = judgment.ranks;
  }
  if (judgment.scores) record["scores"] = *judgment.scores;
  return record;
}

Judgment judgment_from_json(const nlohmann::json& record) {
  auto require = [&](const char* key, bool condition, const char* what) {
    if (!condition) throw InputError(std::string("key '") + key + "': " + what);
  };
  require("id", record.is_object() && record.contains("id") && record["id"].is_string(), "must be a string");
  require("status", record.contains("status") && record["status"].is_string(), "must be a string");
  Judgment judgment;
  judgment.id = record["id"].get<std::string>();
  judgment.status = judgment_status_from_string(record["status"].get<std::string>());
  for (const char* key : {"judge", "config_hash", "reason"}) {
    require(key, !record.contains(key) || record[key].is_string(), "must be a string");
  }
  judgment.judge_id = record.value("judge", "");
  judgment.config_hash = record.value("config_hash", "");
  judgment.reason = record.value("reason", "");
  try {
    if (judgment.is_ok()) {
      require("order", record.contains("order"), "missing");
      require("ranks", record.contains("ranks"), "missing");
      judgment.order = record["order"].get<std::vector<std::int64_t>>();
      judgment.ranks = record["ranks"].get<std::vector<std::int64_t>>();
    }
    if (record.contains("scores")) judgment.scores = record["scores"].get<std::vector<double>>();
  } catch (const nlohmann::json::exception& e) {
    throw InputError(std::string("malformed judgment record: ") + e.what());
  }
  return judgment;
}

std::vector<JudgeRequest> read_judge_requests(const std::filesystem::path& path) {
  std::vector<JudgeRequest> requests;
  std::map<std::string, std::size_t> line_of_id;  // judgments are matched to requests by id
  const std::string file = path.string();
  for (const auto& [line, record] : read_jsonl(path)) {
    if (!record.is_object()) throw_input_error(file, line, "expected an object {\"prompt\", \"candidates\"}");
    JudgeRequest request;
    if (record.contains("id")) {
      const auto& id = record["id"];
      if (id.is_string()) request.id = id.get<std::string>();
      else if (id.is_number_integer()) request.id = std::to_string(id.get<std::int64_t>());
      else throw_input_error(file, line, "key 'id': must be a string or an integer");
    } else {
      request.id = std::to_string(requests.size());
    }
    if (const auto [earlier, inserted] = line_of_id.emplace(request.id, line); !inserted) {
      throw_input_error(file, line, "key 'id': '" + request.id + "' is the id of line " + std::to_string(earlier->second) +
                                        " too (a line without an id takes its position, from 0)");
    }
    if (!record.contains("prompt") || !record["prompt"].is_string()) {
      throw_input_error(file, line, "key 'prompt': must be a string");
    }
    request.prompt = record["prompt"].get<std::string>();
    if (!record.contains("candidates") || !record["candidates"].is_array() || record["candidates"].empty()) {
      throw_input_error(file, line, "key 'candidates': must be a non-empty array of strings");
    }
    for (const auto& candidate : record["candidates"]) {
      if (!candidate.is_string()) throw_input_error(file, line, "key 'candidates': must be a non-empty array of strings");
      request.candidates.push_back(candidate.get<std::string>());
    }
    requests.push_back(std::move(request));
  }
  return requests;
}

}  // namespace selm
