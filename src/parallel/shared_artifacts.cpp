#include "selm/parallel/shared_artifacts.hpp"

#include <nlohmann/json.hpp>

#include "selm/util/files.hpp"

namespace selm {

void SharedArtifacts::write_file(const fs::path& path, std::string_view content) const {
  if (writes()) write_file_atomic(path, content);
}

void SharedArtifacts::write_with(const std::function<void()>& write) const {
  if (writes()) write();
}

SharedArtifacts::Jsonl::Jsonl(const SharedArtifacts& artifacts, const fs::path& path, bool append) {
  if (artifacts.writes()) writer_ = std::make_unique<JsonlWriter>(path, append);
}

SharedArtifacts::Jsonl::~Jsonl() = default;

void SharedArtifacts::Jsonl::write(const nlohmann::json& record) {
  if (writer_) writer_->write(record);
}

}  // namespace selm
