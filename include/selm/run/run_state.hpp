// state.json of a run directory: the stage machine of `selm train`. A stage is listed in
// `completed` only after every file it writes is complete, and the file is replaced atomically,
// so after a crash the run resumes at the first stage that is not listed.
#pragma once

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "selm/parallel/shared_artifacts.hpp"

namespace selm {

namespace fs = std::filesystem;

struct RunState {
  int version = 1;
  std::string config_fingerprint;              // hash of the result-deciding config keys
  std::vector<std::string> completed;          // stage names in the order they completed
  // Wall time of each completed stage (summed over resumes), in the file's order.
  std::vector<std::pair<std::string, double>> stage_seconds;
  bool finished = false;

  bool is_completed(const std::string& stage) const;
  // Adds `seconds` to the stage's time (a new entry for a stage without one).
  void add_seconds(const std::string& stage, double seconds);
};

// The one reader of state.json (`selm train` resuming, `selm report`): InputError naming the
// file (and line or key) for a malformed or unsupported file.
RunState read_run_state(const fs::path& path);
void write_run_state(const SharedArtifacts& artifacts, const fs::path& path, const RunState& state);

}  // namespace selm
