#include "selm/run/eval_record.hpp"

#include "selm/util/files.hpp"

namespace selm {

nlohmann::json eval_record_to_json(const EvalRecord& record) {
  nlohmann::json value = record.result;
  if (record.round) value["round"] = *record.round;
  value["model"] = record.model;
  if (record.baseline) value["baseline"] = *record.baseline;
  value["reference"] = record.reference ? nlohmann::json(*record.reference) : nlohmann::json(nullptr);
  value["judge"] = {{"id", record.judge_id}, {"config_hash", record.judge_config_hash}};
  return value;
}

void write_eval_record(const SharedArtifacts& artifacts, const std::filesystem::path& path, const EvalRecord& record) {
  artifacts.write_file(path, eval_record_to_json(record).dump(2) + "\n");
}

bool is_per_prompt_eval_key(const std::string& key) {
  return key == "scores" || key == "baseline_scores" || key == "examples";
}

}  // namespace selm
