#include "selm/util/file_lock.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <utility>

namespace selm {

namespace {

int open_lock_file(const std::filesystem::path& path) {
  if (!path.parent_path().empty()) std::filesystem::create_directories(path.parent_path());
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) throw std::runtime_error(path.string() + ": cannot create the lock file: " + std::strerror(errno));
  return fd;
}

// flock, retried when a signal interrupts it.
int flock_retrying(int fd, int operation) {
  int result;
  do {
    result = ::flock(fd, operation);
  } while (result != 0 && errno == EINTR);
  return result;
}

std::string read_holder(int fd) {
  char buffer[256];
  const ssize_t size = ::pread(fd, buffer, sizeof(buffer) - 1, 0);
  if (size <= 0) return "";
  std::string text(buffer, static_cast<std::size_t>(size));
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

std::string this_process() {
  char host[256] = {};
  if (::gethostname(host, sizeof(host) - 1) != 0) std::strcpy(host, "unknown host");
  return "pid " + std::to_string(::getpid()) + " on " + host;
}

}  // namespace

FileLock::FileLock(std::filesystem::path path, int fd) : path_(std::move(path)), fd_(fd) {
  taken_over_from_ = read_holder(fd_);
  record_holder();
}

std::optional<FileLock> FileLock::try_acquire(const std::filesystem::path& path) {
  const int fd = open_lock_file(path);
  if (flock_retrying(fd, LOCK_EX | LOCK_NB) == 0) return FileLock(path, fd);
  const int error = errno;
  ::close(fd);
  if (error == EWOULDBLOCK) return std::nullopt;
  throw std::runtime_error(path.string() + ": cannot lock: " + std::strerror(error));
}

FileLock FileLock::acquire(const std::filesystem::path& path,
                           const std::function<void(const std::string& holder)>& on_wait) {
  const int fd = open_lock_file(path);
  int result = flock_retrying(fd, LOCK_EX | LOCK_NB);
  if (result != 0 && errno == EWOULDBLOCK) {
    if (on_wait) on_wait(holder_of(path));
    result = flock_retrying(fd, LOCK_EX);  // the same descriptor, now waiting
  }
  if (result != 0) {
    const int error = errno;
    ::close(fd);
    throw std::runtime_error(path.string() + ": cannot lock: " + std::strerror(error));
  }
  return FileLock(path, fd);
}

std::string FileLock::holder_of(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return "";
  std::string holder = read_holder(fd);
  ::close(fd);
  return holder;
}

void FileLock::record_holder() {
  // Best effort: the lock itself is the flock; the text only names the holder in messages.
  const std::string text = this_process() + "\n";
  if (::ftruncate(fd_, 0) == 0) {
    [[maybe_unused]] const ssize_t written = ::pwrite(fd_, text.data(), text.size(), 0);
  }
}

FileLock::FileLock(FileLock&& other) noexcept
    : path_(std::move(other.path_)), fd_(std::exchange(other.fd_, -1)),
      taken_over_from_(std::move(other.taken_over_from_)) {}

FileLock& FileLock::operator=(FileLock&& other) noexcept {
  if (this != &other) {
    release();
    path_ = std::move(other.path_);
    fd_ = std::exchange(other.fd_, -1);
    taken_over_from_ = std::move(other.taken_over_from_);
  }
  return *this;
}

FileLock::~FileLock() { release(); }

void FileLock::release() noexcept {
  if (fd_ < 0) return;
  // Cleared while still held, so that no other holder's record is erased. The file is never
  // deleted: a process waiting on it would otherwise lock a file no longer in the directory.
  [[maybe_unused]] const int truncated = ::ftruncate(fd_, 0);
  ::flock(fd_, LOCK_UN);
  ::close(fd_);
  fd_ = -1;
}

}  // namespace selm
