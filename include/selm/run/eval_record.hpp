// eval.json, written by each evaluated round of `selm train` and by `selm eval`: the
// evaluation's fields (eval_result_to_json: counts, win rate, scores, lengths, KL, examples)
// and what was evaluated against what.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "selm/parallel/shared_artifacts.hpp"

namespace selm {

struct EvalRecord {
  nlohmann::json result = nlohmann::json::object();  // the evaluation's fields
  std::optional<std::int64_t> round;     // `selm train`: the round (absent from `selm eval`'s file)
  std::string model;                     // the evaluated model directory
  std::optional<std::string> baseline;   // `selm eval`: the baseline model or responses file
  std::optional<std::string> reference; // the KL reference model; null when KL was not estimated
  std::string judge_id;
  std::string judge_config_hash;
};

nlohmann::json eval_record_to_json(const EvalRecord& record);
void write_eval_record(const SharedArtifacts& artifacts, const std::filesystem::path& path, const EvalRecord& record);

// Keys of eval.json that hold one value per prompt (or the examples); a metrics.jsonl line
// repeats every other key.
bool is_per_prompt_eval_key(const std::string& key);

}  // namespace selm
