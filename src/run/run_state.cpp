#include "selm/run/run_state.hpp"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "selm/run/json_fields.hpp"
#include "selm/util/error.hpp"
#include "selm/util/files.hpp"

namespace selm {

bool RunState::is_completed(const std::string& stage) const {
  return std::find(completed.begin(), completed.end(), stage) != completed.end();
}

void RunState::add_seconds(const std::string& stage, double seconds) {
  for (auto& [name, total] : stage_seconds) {
    if (name == stage) {
      total += seconds;
      return;
    }
  }
  stage_seconds.emplace_back(stage, seconds);
}

RunState read_run_state(const fs::path& path) {
  const std::string where = location_prefix(path.string());
  const nlohmann::ordered_json value = read_ordered_json_file(path);
  if (!value.is_object()) throw InputError(where + "expected a JSON object");
  RunState state;
  const auto version = value.find("version");
  if (version == value.end() || !version->is_number_integer()) bad_key(where, "version", "expected an integer");
  state.version = version->get<int>();
  if (state.version != 1) throw InputError(path.string() + ": unsupported run state version " + std::to_string(state.version));
  const auto fingerprint = value.find("config_fingerprint");
  if (fingerprint == value.end() || !fingerprint->is_string()) bad_key(where, "config_fingerprint", "expected a string");
  state.config_fingerprint = fingerprint->get<std::string>();
  const auto completed = value.find("completed");
  if (completed == value.end() || !completed->is_array()) bad_key(where, "completed", "expected an array of stage names");
  for (const auto& stage : *completed) {
    if (!stage.is_string()) bad_key(where, "completed", "expected stage names, got " + stage.dump());
    state.completed.push_back(stage.get<std::string>());
  }
  if (const auto seconds = value.find("stage_seconds"); seconds != value.end()) {
    if (!seconds->is_object()) bad_key(where, "stage_seconds", "expected an object stage -> seconds");
    for (const auto& [stage, stage_value] : seconds->items()) {
      if (!stage_value.is_number()) bad_key(where, "stage_seconds." + stage, "expected a number, got " + stage_value.dump());
      state.stage_seconds.emplace_back(stage, stage_value.get<double>());
    }
  }
  if (const auto finished = value.find("finished"); finished != value.end()) {
    if (!finished->is_boolean()) bad_key(where, "finished", "expected true or false");
    state.finished = finished->get<bool>();
  }
  return state;
}

void write_run_state(const SharedArtifacts& artifacts, const fs::path& path, const RunState& state) {
  // A JSON object sorts its keys: the file lists stages alphabetically whatever the order here.
  nlohmann::json seconds = nlohmann::json::object();
  for (const auto& [stage, value] : state.stage_seconds) seconds[stage] = value;
  const nlohmann::json value = {{"version", state.version},
                                {"config_fingerprint", state.config_fingerprint},
                                {"completed", state.completed},
                                {"stage_seconds", seconds},
                                {"finished", state.finished}};
  artifacts.write_file(path, value.dump(2) + "\n");
}

}  // namespace selm
