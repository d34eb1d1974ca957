// File helpers with the durability rules of DESIGN.md: files that a later stage reads are
// replaced atomically, and JSONL logs are flushed record by record so that a killed process
// loses at most the record it was writing.
#pragma once

#include <cstddef>
#include <cstdio>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace selm {

namespace fs = std::filesystem;

// Writes `content` to a temporary file next to `path`, fsyncs it and renames it over `path`,
// so readers see either the old file or the new one, never a half-written one.
void write_file_atomic(const fs::path& path, std::string_view content);

// Whole file as bytes. Throws InputError naming the path when it cannot be opened.
std::string read_file(const fs::path& path);


// Longest JSONL line read_jsonl accepts. Records are kilobytes (a conversation, its candidates);
// a line of gigabytes is a corrupt or hostile file, refused before it fills the memory.
inline constexpr std::size_t kMaxJsonlLineBytes = std::size_t{64} << 20;

// Reads a JSONL file: one JSON value per non-empty line. Invalid JSON is an InputError naming
// FILE:LINE. With `tolerate_partial_tail`, an unterminated last line (a record cut off by a
// crash) is ignored instead of rejected: that is how appendable stages resume. A line longer than
// `max_line_bytes` is an InputError "FILE:LINE: line longer than N bytes", raised while reading
// it: the file is read in blocks, never whole.
std::vector<std::pair<std::size_t, nlohmann::json>> read_jsonl(const fs::path& path,
                                                              bool tolerate_partial_tail = false,
                                                              std::size_t max_line_bytes = kMaxJsonlLineBytes);

// Appends JSON records, one per line, each in a single write to the OS before returning. Opening
// truncates a partial last line left by a crash so that the next record starts on its own line.
// `shared`: other processes append to the same file at the same time (the judgment cache that a
// sweep's runs or a job's ranks share): each record is then written, and a partial last line
// dropped, under an exclusive flock of the file, so that no writer ever cuts another's record.
class JsonlWriter {
 public:
  explicit JsonlWriter(const fs::path& path, bool append = true, bool shared = false);
  ~JsonlWriter();
  JsonlWriter(const JsonlWriter&) = delete;
  JsonlWriter& operator=(const JsonlWriter&) = delete;

  void write(const nlohmann::json& record);
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
  bool shared_ = false;
  int fd_ = -1;
};

// Called with the file's path after every complete write: an atomic replacement (once renamed
// into place) or a JSONL record (once flushed). Null unless a program installs one; the library
// never does. The crash tests' executable installs a hook that SIGKILLs the process at an exact
// write (tests/support/kill_after_write.cpp), so that the `selm` users run has no such switch.
using AfterWriteHook = void (*)(const fs::path& written);
void set_after_write_hook(AfterWriteHook hook);

}  // namespace selm
