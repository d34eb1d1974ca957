#include "selm/util/files.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <vector>

#include <nlohmann/json.hpp>

#include "selm/util/error.hpp"
#include "selm/util/json_depth.hpp"

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
  if (fd < 0) throw io_error(path, "cannot create a temporary file");
  const char* data = content.data();
  std::size_t left = content.size();
  while (left > 0) {
    ssize_t written = ::write(fd, data, left);
    if (written < 0) {
      if (errno == EINTR) continue;
      const int error = errno;  // close and unlink may change errno
      ::close(fd);
      ::unlink(temp.c_str());
      errno = error;
      throw io_error(path, "write failed");
    }
    data += written;
    left -= static_cast<std::size_t>(written);
  }
  const bool synced = ::fsync(fd) == 0;
  int error = errno;
  const bool closed = ::close(fd) == 0;  // closed whether or not fsync failed
  if (!synced || !closed) {
    if (synced) error = errno;
    ::unlink(temp.c_str());
    errno = error;
    throw io_error(path, "cannot flush");
  }
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    const int error = errno;
    ::unlink(temp.c_str());
    errno = error;
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

std::vector<std::pair<std::size_t, nlohmann::json>> read_jsonl(const fs::path& path, bool tolerate_partial_tail,
                                                              std::size_t max_line_bytes) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(path.string() + ": cannot open file");
  std::vector<std::pair<std::size_t, nlohmann::json>> records;
  std::size_t line_number = 0;
  std::string line;  // the line being read, at most max_line_bytes
  const auto take_line = [&](bool terminated) {
    ++line_number;
    if (line.find_first_not_of(" \t\r") == std::string::npos) return;
    // Before parsing: a record nested a million deep parses, then crashes whoever copies or quotes it.
    require_json_depth_within(line, path.string() + ":" + std::to_string(line_number));
    nlohmann::json value = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (value.is_discarded()) {
      if (!terminated && tolerate_partial_tail) return;
      throw_input_error(path.string(), line_number, "invalid JSON");
    }
    records.emplace_back(line_number, std::move(value));
  };
  std::vector<char> block(std::size_t{1} << 16);
  while (in) {
    in.read(block.data(), static_cast<std::streamsize>(block.size()));
    const char* begin = block.data();
    const char* const end = begin + in.gcount();
    while (begin < end) {
      const auto* newline = static_cast<const char*>(std::memchr(begin, '\n', static_cast<std::size_t>(end - begin)));
      const char* const stop = newline != nullptr ? newline : end;
      if (static_cast<std::size_t>(stop - begin) > max_line_bytes - line.size()) {
        throw_input_error(path.string(), line_number + 1,
                          "line longer than " + std::to_string(max_line_bytes) + " bytes");
      }
      line.append(begin, stop);
      if (newline == nullptr) break;
      take_line(/*terminated=*/true);
      line.clear();
      begin = newline + 1;
    }
  }
  if (in.bad()) throw io_error(path, "read failed");
  if (!line.empty()) take_line(/*terminated=*/false);
  return records;
}

namespace {

// An exclusive flock on `fd` for the scope, when `enabled`.
class RecordLock {
 public:
  RecordLock(int fd, bool enabled, const fs::path& path) : fd_(enabled ? fd : -1) {
    if (fd_ < 0) return;
    while (::flock(fd_, LOCK_EX) != 0) {
      if (errno != EINTR) throw io_error(path, "cannot lock");
    }
  }
  ~RecordLock() {
    if (fd_ >= 0) ::flock(fd_, LOCK_UN);
  }
  RecordLock(const RecordLock&) = delete;
  RecordLock& operator=(const RecordLock&) = delete;

 private:
  int fd_;
};

// The size of the file (`size` bytes) without its unterminated last line (a record a crash cut off), found by
// reading backwards from the end: a long log is not read whole to open it.
off_t size_without_partial_line(int fd, off_t size, const fs::path& path) {
  off_t end = size;
  if (end == 0) return 0;
  char last = 0;
  if (::pread(fd, &last, 1, end - 1) != 1) throw io_error(path, "read failed");
  if (last == '\n') return end;
  std::vector<char> block(std::size_t{1} << 16);
  while (end > 0) {
    const off_t begin = std::max<off_t>(0, end - static_cast<off_t>(block.size()));
    const auto size = static_cast<std::size_t>(end - begin);
    if (::pread(fd, block.data(), size, begin) != static_cast<ssize_t>(size)) throw io_error(path, "read failed");
    for (std::size_t i = size; i > 0; --i) {
      if (block[i - 1] == '\n') return begin + static_cast<off_t>(i);
    }
    end = begin;
  }
  return 0;
}

}  // namespace

JsonlWriter::JsonlWriter(const fs::path& path, bool append, bool shared) : path_(path), shared_(shared) {
  if (!path.parent_path().empty()) fs::create_directories(path.parent_path());
  // Read-write: the same descriptor finds the partial last line (pread ignores O_APPEND).
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC | (append ? 0 : O_TRUNC), 0644);
  if (fd_ < 0) throw io_error(path, "cannot open for writing");
  try {
    // Drop an unterminated last line: it is a record that a crash cut off. Under the lock when
    // the file is shared, so that it is never another writer's record in flight.
    const RecordLock lock(fd_, shared_, path_);
    struct stat status;
    if (::fstat(fd_, &status) != 0) throw io_error(path, "cannot stat");
    const off_t keep = size_without_partial_line(fd_, status.st_size, path_);
    if (keep != status.st_size && ::ftruncate(fd_, keep) != 0) throw io_error(path, "cannot truncate");
  } catch (...) {
    ::close(fd_);
    throw;
  }
}

JsonlWriter::~JsonlWriter() {
  if (fd_ >= 0) ::close(fd_);
}

void JsonlWriter::write(const nlohmann::json& record) {
  const std::string line = record.dump() + "\n";
  // One write() per record (O_APPEND): other appenders' records never land inside it.
  const RecordLock lock(fd_, shared_, path_);
  const char* data = line.data();
  std::size_t left = line.size();
  while (left > 0) {
    const ssize_t written = ::write(fd_, data, left);
    if (written < 0) {
      if (errno == EINTR) continue;
      throw io_error(path_, "write failed");
    }
    data += written;
    left -= static_cast<std::size_t>(written);
  }
  notify_after_write(path_);
}

}  // namespace selm
