#include "selm/util/system.hpp"

#include <dlfcn.h>
#include <malloc.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdlib>
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

// glibc serves a block larger than its mmap threshold by mmap and unmaps it when freed, but the
// threshold is dynamic: each freed mmapped block raises it to that block's size, up to 32 MiB.
// After the first training step, every activation of a few MiB comes from the heap instead, and
// the heap's free space fragments between the steps' differently sized tensors: with LoRA at the
// 34M shape (B8, T512), peak RSS was 2x the peak of live tensors. Fixed at 16 MiB, the threshold
// sends the large activations back to mmap (the same run then holds 220 MB beyond its tensors),
// while tensors below it, all of a small model's, stay on the heap: an mmapped block is
// page-faulted in again on every allocation, which costs throughput.
void configure_process_allocator() {
  constexpr int kMmapThresholdBytes = 16 << 20;
  if (std::getenv("MALLOC_MMAP_THRESHOLD_") != nullptr) return;  // the user's own setting wins
  mallopt(M_MMAP_THRESHOLD, kMmapThresholdBytes);
}

}  // namespace selm
