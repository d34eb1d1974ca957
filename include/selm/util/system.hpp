// Process-level facts that benchmarks and reports print.
#pragma once

#include <cstdint>
#include <optional>

namespace selm {

// Peak resident set size of this process so far, in bytes.
std::int64_t peak_rss_bytes();
// Current resident set size, in bytes (0 when unavailable).
std::int64_t current_rss_bytes();
// Memory the system could give this process now (MemAvailable of /proc/meminfo), in bytes.
std::optional<std::int64_t> available_system_memory_bytes();
// Total memory of CUDA device `index`, asked of the CUDA runtime that a CUDA build of LibTorch
// has loaded; nullopt in a CPU-only build or when the runtime does not answer.
std::optional<std::int64_t> cuda_device_memory_bytes(int index);

// Fixes glibc's mmap threshold for the process's large allocations, unless the user set
// MALLOC_MMAP_THRESHOLD_ (see system.cpp for why). Called once at start by the command line.
void configure_process_allocator();

}  // namespace selm
