// Fault injection of the crash tests, linked only into the test executable selm_fault_injection
// (`selm`'s main with this file): when the environment variable SELM_KILL_AFTER_WRITE is
// "NAME:N", the process kills itself with SIGKILL right after its N-th complete write of a file
// named NAME (a JSONL record or an atomic replacement). Counting is per process, so a resumed run
// (a new process) counts from zero again.
#include <csignal>
#include <cstdlib>
#include <map>
#include <mutex>
#include <string>

#include "selm/util/files.hpp"

namespace {

void kill_after_write(const selm::fs::path& written) {
  // Parsed once per process.
  static const char* spec = std::getenv("SELM_KILL_AFTER_WRITE");
  if (spec == nullptr || *spec == '\0') return;
  static std::mutex mutex;
  static std::map<std::string, long> counts;
  const std::string text(spec);
  const std::size_t colon = text.rfind(':');
  if (colon == std::string::npos) return;
  const std::string name = written.filename().string();
  if (name != text.substr(0, colon)) return;
  std::lock_guard<std::mutex> lock(mutex);
  if (++counts[name] == std::atol(text.c_str() + colon + 1)) std::raise(SIGKILL);
}

// Installed before main() runs: the executable's main is selm's own, unchanged.
[[maybe_unused]] const bool installed = (selm::set_after_write_hook(&kill_after_write), true);

}  // namespace
