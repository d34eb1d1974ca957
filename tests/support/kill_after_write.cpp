// Fault injection of the crash and disk-full tests, linked only into the test executable
// selm_fault_injection (`selm`'s main with this file). Both faults strike right after the
// process's N-th complete write of a file named NAME (a JSONL record or an atomic replacement);
// counting is per process, so a resumed run (a new process) counts from zero again.
//   SELM_KILL_AFTER_WRITE=NAME:N       the process kills itself with SIGKILL;
//   SELM_FILL_DISK_AFTER_WRITE=NAME:N  the file SELM_FILL_DISK_FILE grows until its file system
//                                      is full (ENOSPC), and the process goes on: its next write
//                                      that needs space fails as on a full disk.
#include <fcntl.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "selm/util/files.hpp"

namespace {

// True once for the N-th write of NAME when `variable` is "NAME:N".
bool is_nth_write(const char* variable, const selm::fs::path& written) {
  const char* spec = std::getenv(variable);
  if (spec == nullptr || *spec == '\0') return false;
  static std::mutex mutex;
  static std::map<std::string, std::map<std::string, long>> counts;  // per variable, per name
  const std::string text(spec);
  const std::size_t colon = text.rfind(':');
  if (colon == std::string::npos) return false;
  const std::string name = written.filename().string();
  if (name != text.substr(0, colon)) return false;
  std::lock_guard<std::mutex> lock(mutex);
  return ++counts[variable][name] == std::atol(text.c_str() + colon + 1);
}

// Writes to `path` until nothing more fits, in ever smaller pieces down to one byte, so that not
// even a partly used block is left.
void fill_file_system(const char* path) {
  const int fd = ::open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) std::abort();  // the test named a file it cannot create: fail loudly
  std::vector<char> zeros(1 << 20, 0);
  for (std::size_t piece = zeros.size(); piece > 0; piece /= 2) {
    while (::write(fd, zeros.data(), piece) == static_cast<ssize_t>(piece)) {
    }
  }
  ::close(fd);
}

void inject_after_write(const selm::fs::path& written) {
  if (is_nth_write("SELM_KILL_AFTER_WRITE", written)) std::raise(SIGKILL);
  if (is_nth_write("SELM_FILL_DISK_AFTER_WRITE", written)) {
    const char* filler = std::getenv("SELM_FILL_DISK_FILE");
    if (filler == nullptr || *filler == '\0') std::abort();
    fill_file_system(filler);
  }
}

// Installed before main() runs: the executable's main is selm's own, unchanged.
[[maybe_unused]] const bool installed = (selm::set_after_write_hook(&inject_after_write), true);

}  // namespace
