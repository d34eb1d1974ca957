// Exclusive locks on files (flock), so that two processes never work on the same run directory
// or prepare the same cache entry at once.
//
// The kernel releases a flock when its holder exits, however it exits: a lock left behind by a
// killed process is free again at once, and the next process takes it over. The lock file
// itself stays, holding "pid PID on HOST" of its last holder, so that a process that finds the
// lock taken can say who holds it.
#pragma once

#include <filesystem>
#include <functional>
#include <optional>
#include <string>

namespace selm {

class FileLock {
 public:
  // Takes the lock on `path` (created if missing), or returns nullopt at once when another
  // process (or another FileLock in this one) holds it. Throws std::runtime_error naming the
  // path when the file cannot be created.
  static std::optional<FileLock> try_acquire(const std::filesystem::path& path);
  // Takes the lock on `path`, waiting for as long as another holder keeps it; `on_wait` is
  // called once, with the holder's description, before waiting.
  static FileLock acquire(const std::filesystem::path& path,
                          const std::function<void(const std::string& holder)>& on_wait = {});
  // "pid PID on HOST" of the lock's current (or last) holder, as written in the file; empty when
  // unknown.
  static std::string holder_of(const std::filesystem::path& path);

  FileLock(FileLock&& other) noexcept;
  FileLock& operator=(FileLock&& other) noexcept;
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;
  // Releases the lock (and clears the holder, so that only a dead holder leaves its pid behind).
  ~FileLock();

  const std::filesystem::path& path() const { return path_; }
  // The holder recorded by the process that held the lock before, when it did not release it
  // (it died holding it); empty otherwise.
  const std::string& taken_over_from() const { return taken_over_from_; }

 private:
  FileLock(std::filesystem::path path, int fd);
  void record_holder();
  void release() noexcept;

  std::filesystem::path path_;
  int fd_ = -1;
  std::string taken_over_from_;
};

}  // namespace selm
