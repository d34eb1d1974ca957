#include "selm/online/run_state.hpp"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "selm/util/error.hpp"
#include "selm/util/files.hpp"

namespace selm {

bool RunState::is_completed(const std::string& stage) const {
  return std::find(completed.begin(), completed.end(), stage) != completed.end();
}

RunState read_run_state(const fs::path& path) {
  RunState state;
  try {
    const nlohmann::json value = nlohmann::json::parse(read_file(path));
    state.version = value.at("version").get<int>();
    state.config_fingerprint = value.at("config_fingerprint").get<std::string>();
    state.completed = value.at("completed").get<std::vector<std::string>>();
    state.stage_seconds = value.value("stage_seconds", std::map<std::string, double>{});
    state.finished = value.value("finished", false);
  } catch (const nlohmann::json::exception& error) {
    throw InputError(path.string() + ": malformed run state: " + error.what());
  }
  if (state.version != 1) throw InputError(path.string() + ": unsupported run state version " + std::to_string(state.version));
  return state;
}

void write_run_state(const fs::path& path, const RunState& state) {
  const nlohmann::json value = {{"version", state.version},
                                {"config_fingerprint", state.config_fingerprint},
                                {"completed", state.completed},
                                {"stage_seconds", state.stage_seconds},
                                {"finished", state.finished}};
  write_file_atomic(path, value.dump(2) + "\n");
}

}  // namespace selm
