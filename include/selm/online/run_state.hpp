// state.json of a run directory: the stage machine of `selm train`. A stage is listed in
// `completed` only after every file it writes is complete, and the file is replaced atomically,
// so after a crash the run resumes at the first stage that is not listed.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace selm {

namespace fs = std::filesystem;

inline constexpr const char* kRunStateFile = "state.json";

struct RunState {
  int version = 1;
  std::string config_fingerprint;              // hash of the result-deciding config keys
  std::vector<std::string> completed;          // stage names in the order they completed
  std::map<std::string, double> stage_seconds; // wall time of each completed stage (summed over resumes)
  bool finished = false;

  bool is_completed(const std::string& stage) const;
};

// InputError naming the file for a malformed state.json.
RunState read_run_state(const fs::path& path);
void write_run_state(const fs::path& path, const RunState& state);

}  // namespace selm
