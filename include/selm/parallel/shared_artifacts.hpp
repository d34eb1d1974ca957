// The one place through which a process writes the artifacts that the whole job shares:
// state.json, checkpoints, metrics, the report, merged JSONL files, model directories. Only the
// rank that ParallelContext::writes_shared_artifacts() names writes; on the other ranks these
// calls do nothing, so that N processes never race on one file. With world size 1 every call
// writes, exactly as a plain write_file_atomic / JsonlWriter would.
#pragma once

#include <filesystem>
#include <functional>
#include <memory>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

#include "selm/parallel/parallel_context.hpp"

namespace selm {

namespace fs = std::filesystem;

class JsonlWriter;

class SharedArtifacts {
 public:
  explicit SharedArtifacts(ParallelContext parallel = {}) : parallel_(parallel) {}

  const ParallelContext& parallel() const { return parallel_; }
  bool writes() const { return parallel_.writes_shared_artifacts(); }

  // write_file_atomic on the writing rank.
  void write_file(const fs::path& path, std::string_view content) const;
  // Runs `write` (e.g. saving a checkpoint or a model directory) on the writing rank only.
  void write_with(const std::function<void()>& write) const;
  // A JSONL appender (util/files.hpp JsonlWriter) on the writing rank; on the others one whose
  // write() does nothing.
  class Jsonl {
   public:
    Jsonl(const SharedArtifacts& artifacts, const fs::path& path, bool append = true);
    ~Jsonl();
    Jsonl(const Jsonl&) = delete;
    Jsonl& operator=(const Jsonl&) = delete;
    void write(const nlohmann::json& record);

   private:
    std::unique_ptr<JsonlWriter> writer_;  // null on ranks that do not write
  };

 private:
  ParallelContext parallel_;
};

}  // namespace selm
