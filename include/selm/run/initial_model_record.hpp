// initial_model.json: where the run's initial policy came from and how good it was.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include "selm/parallel/shared_artifacts.hpp"

namespace selm {

struct InitialModelRecord {
  std::string path;                          // model.path
  std::string source = "config";             // "config", or "task:<name>" for a built-in task's SFT model
  std::optional<double> perplexity;          // held-out perplexity of the initial model (null: not measured)
  std::optional<double> initial_perplexity;  // ... of the randomly initialised model before SFT (tasks only)
  std::optional<std::string> perplexity_file;  // the report the perplexities come from (tasks only)
};

// InputError naming the file and key for a malformed file.
InitialModelRecord read_initial_model_record(const std::filesystem::path& path);
// "perplexity" is written (null when unknown); the task-only keys only when set.
void write_initial_model_record(const SharedArtifacts& artifacts,
                                const std::filesystem::path& path, const InitialModelRecord& record);

}  // namespace selm
