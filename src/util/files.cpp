#include "selm/util/files.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "selm/util/error.hpp"

namespace selm {

namespace {

std::runtime_error io_error(const fs::path& path, const std::string& what) {
  return std::runtime_error(path.string() + ": " + what + ": " + std::strerror(errno));
}

// Constant-initialised, so a hook installed by another translation unit's static initialiser is
// never overwritten by this one's.
std::atomic<AfterWriteHook> after_write_hook{nullptr};

void fsync_directory(const fs::path& dir) {
  int fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd < 0) return;  // best effort: some filesystems refuse directory fds
  ::fsync(fd);
  ::close(fd);
}

void notify_after_write(const fs::path& written) {
  if (const AfterWriteHook hook = after_write_hook.load()) hook(written);
}

}  // namespace

void set_after_write_hook(AfterWriteHook hook) { after_write_hook.store(hook); }

void write_file_atomic(const fs::path& path, std::string_view content) {
  const fs::path parent = path.parent_path();
  if (!parent.empty()) fs::create_directories(parent);
  // A unique temp name, so that two writers never share a temp file.
  std::random_device entropy;
  const fs::path temp = path.string() + ".tmp." + std::to_string(::getpid()) + "." +
                        std::to_string(entropy());
  int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw io_error(temp, "cannot create");
  const char* data = content.data();
  std::size_t left = content.size();
  while (left > 0) {
    ssize_t written = ::write(fd, data, left);
    if (written < 0) {
      if (errno == EINTR) continue;
      ::close(fd);
      ::unlink(temp.c_str());
      throw io_error(temp, "write failed");
    }
    data += written;
    left -= static_cast<std::size_t>(written);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    ::unlink(temp.c_str());
    throw io_error(temp, "cannot flush");
  }
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    ::unlink(temp.c_str());
    throw io_error(path, "cannot rename temporary file into place");
  }
  fsync_directory(parent);
  notify_after_write(path);
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(path.string() + ": cannot open file");
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

std::vector<std::pair<std::size_t, nlohmann::json>> read_jsonl(const fs::path& path,
                                                              bool tolerate_partial_tail) {
  const std::string text = read_file(path);
  std::vector<std::pair<std::size_t, nlohmann::json>> records;
  std::size_t line_number = 0;
  std::size_t begin = 0;
  while (begin < text.size()) {
    ++line_number;
    std::size_t end = text.find('\n', begin);
    const bool terminated = end != std::string::npos;
    if (!terminated) end = text.size();
    std::string_view line(text.data() + begin, end - begin);
    begin = end + 1;
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
    nlohmann::json value = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (value.is_discarded()) {
      if (!terminated && tolerate_partial_tail) break;
      throw_input_error(path.string(), line_number, "invalid JSON");
    }
    records.emplace_back(line_number, std::move(value));
  }
  return records;
}

JsonlWriter::JsonlWriter(const fs::path& path, bool append) : path_(path) {
  if (!path.parent_path().empty()) fs::create_directories(path.parent_path());
  if (append && fs::exists(path)) {
    // Drop an unterminated last line: it is a record that a crash cut off.
    const std::string text = read_file(path);
    const std::size_t keep = text.empty() || text.back() == '\n' ? text.size() : text.rfind('\n') + 1;
    if (keep != text.size()) fs::resize_file(path, text.rfind('\n') == std::string::npos ? 0 : keep);
  }
  file_ = std::fopen(path.c_str(), append ? "ab" : "wb");
  if (file_ == nullptr) throw io_error(path, "cannot open for writing");
}

JsonlWriter::~JsonlWriter() {
  if (file_ != nullptr) std::fclose(file_);
}

void JsonlWriter::write(const nlohmann::json& record) {
  const std::string line = record.dump() + "\n";
  if (std::fwrite(line.data(), 1, line.size(), file_) != line.size() || std::fflush(file_) != 0) {
    throw io_error(path_, "write failed");
  }
  notify_after_write(path_);
}

}  // namespace selm
