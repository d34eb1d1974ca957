#include "selm/util/cpu_threads.hpp"

#include <dlfcn.h>
#include <sched.h>

#include <algorithm>
#include <cstdlib>
#include <thread>

#include <ATen/Parallel.h>

#include "selm/util/log.hpp"

namespace selm {

namespace {

// OpenBLAS's own controls, looked up in the process rather than linked: LibTorch may be built
// against another BLAS (MKL in PyTorch's wheels), and then there is nothing to size.
struct OpenBlasControls {
  int (*get_parallel)() = nullptr;  // 0 serial, 1 pthreads, 2 OpenMP
  int (*get_num_threads)() = nullptr;
  void (*set_num_threads)(int) = nullptr;
  char* (*get_config)() = nullptr;
};

const OpenBlasControls& openblas_controls() {
  static const OpenBlasControls controls = [] {
    OpenBlasControls found;
    found.get_parallel = reinterpret_cast<int (*)()>(dlsym(RTLD_DEFAULT, "openblas_get_parallel"));
    found.get_num_threads = reinterpret_cast<int (*)()>(dlsym(RTLD_DEFAULT, "openblas_get_num_threads"));
    found.set_num_threads = reinterpret_cast<void (*)(int)>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"));
    found.get_config = reinterpret_cast<char* (*)()>(dlsym(RTLD_DEFAULT, "openblas_get_config"));
    return found;
  }();
  return controls;
}

BlasThreading loaded_blas_threading() {
  const auto& controls = openblas_controls();
  if (controls.get_parallel == nullptr) return BlasThreading::unknown;
  switch (controls.get_parallel()) {
    case 0: return BlasThreading::serial;
    case 1: return BlasThreading::pthreads;
    case 2: return BlasThreading::openmp;
    default: return BlasThreading::unknown;
  }
}

// What "every core" (run.threads: 0) means: OMP_NUM_THREADS when it is set to a count, as
// PyTorch reads it (the first entry of a nested list), else every core of the affinity mask.
int default_thread_count(int cores) {
  const char* variable = std::getenv("OMP_NUM_THREADS");
  if (variable == nullptr) return cores;
  char* end = nullptr;
  const long count = std::strtol(variable, &end, 10);
  if (end == variable || (*end != '\0' && *end != ',') || count < 1 || count > 4096) return cores;
  return static_cast<int>(count);
}

}  // namespace

int machine_cores() {
  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  if (sched_getaffinity(0, sizeof(allowed), &allowed) == 0) {
    const int count = CPU_COUNT(&allowed);
    if (count > 0) return count;
  }
  return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

const char* blas_threading_name(BlasThreading threading) {
  switch (threading) {
    case BlasThreading::openmp: return "openblas-openmp";
    case BlasThreading::pthreads: return "openblas-pthreads";
    case BlasThreading::serial: return "openblas-serial";
    case BlasThreading::unknown: break;
  }
  return "unknown";
}

CpuThreadPools configure_cpu_threads(std::int64_t requested) {
  const int cores = machine_cores();
  const int threads = requested > 0 ? static_cast<int>(requested) : default_thread_count(cores);
  const auto& controls = openblas_controls();
  if (loaded_blas_threading() == BlasThreading::pthreads) {
    // Two pools: give BLAS the threads, and keep ATen's team from spinning beside it unless the
    // user asked for a count (then both get it, as asked).
    if (controls.set_num_threads != nullptr) controls.set_num_threads(threads);
    at::set_num_threads(requested > 0 ? threads : 1);
    static bool warned = false;
    if (requested == 0 && cores > 1 && !warned) {
      warned = true;
      log::warn("the pthreads build of OpenBLAS is loaded: LibTorch's own loops run on 1 thread beside its " +
                std::to_string(threads) +
                " BLAS threads; install libopenblas0-openmp and rebuild for one shared pool (docs/performance.md)");
    }
  } else {
    // One pool (OpenBLAS's OpenMP build follows omp_get_max_threads), or a BLAS with no pool of
    // its own to fight: every requested thread goes to ATen. Left alone, Debian's LibTorch starts
    // with a single OpenMP thread.
    at::set_num_threads(threads);
    if (controls.set_num_threads != nullptr) controls.set_num_threads(threads);  // its count, reported
  }
  return cpu_thread_pools();
}

CpuThreadPools cpu_thread_pools() {
  CpuThreadPools pools;
  pools.cores = machine_cores();
  pools.torch_threads = at::get_num_threads();
  pools.torch_interop_threads = at::get_num_interop_threads();
  pools.blas = loaded_blas_threading();
  const auto& controls = openblas_controls();
  if (controls.get_num_threads != nullptr) pools.blas_threads = controls.get_num_threads();
  if (controls.get_config != nullptr && controls.get_config() != nullptr) pools.blas_config = controls.get_config();
  return pools;
}

SingleThreadScope::SingleThreadScope(bool active) {
  if (active && at::get_num_threads() > 1) {
    previous_ = at::get_num_threads();
    at::set_num_threads(1);
  }
}

SingleThreadScope::~SingleThreadScope() {
  if (previous_ > 0) at::set_num_threads(previous_);
}

}  // namespace selm
