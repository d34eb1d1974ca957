#include "selm/util/system.hpp"

#include <dlfcn.h>
#include <sys/resource.h>
#include <unistd.h>

#include <fstream>
#include <string>

namespace selm {

std::int64_t peak_rss_bytes() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<std::int64_t>(usage.ru_maxrss) * 1024;  // Linux reports KiB
}

std::int64_t current_rss_bytes() {
  std::ifstream statm("/proc/self/statm");
  std::int64_t total_pages = 0, resident_pages = 0;
  if (!(statm >> total_pages >> resident_pages)) return 0;
  return resident_pages * static_cast<std::int64_t>(::sysconf(_SC_PAGESIZE));
}

std::optional<std::int64_t> available_system_memory_bytes() {
  std::ifstream meminfo("/proc/meminfo");
  std::string key;
  std::int64_t kib = 0;
  std::string unit;
  while (meminfo >> key >> kib >> unit) {
    if (key == "MemAvailable:") return kib * 1024;
  }
  return std::nullopt;
}

std::optional<std::int64_t> cuda_device_memory_bytes(int index) {
  // Looked up rather than linked: the CPU build has no CUDA runtime, and a CUDA build of LibTorch
  // has loaded it already (cudaError_t is an int; 0 is cudaSuccess).
  using SetDevice = int (*)(int);
  using MemGetInfo = int (*)(std::size_t*, std::size_t*);
  const auto set_device = reinterpret_cast<SetDevice>(dlsym(RTLD_DEFAULT, "cudaSetDevice"));
  const auto mem_get_info = reinterpret_cast<MemGetInfo>(dlsym(RTLD_DEFAULT, "cudaMemGetInfo"));
  if (set_device == nullptr || mem_get_info == nullptr) return std::nullopt;
  std::size_t free_bytes = 0, total_bytes = 0;
  if (set_device(index) != 0 || mem_get_info(&free_bytes, &total_bytes) != 0) return std::nullopt;
  return static_cast<std::int64_t>(total_bytes);
}

}  // namespace selm
