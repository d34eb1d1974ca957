// The CPU thread pools a process computes with, and the one rule that sizes them.
//
// Two pools do LibTorch's CPU work: ATen's OpenMP team (elementwise ops, reductions, its own
// parallel loops) and the BLAS library's (matmul). With OpenBLAS's OpenMP build they are one
// pool: OpenBLAS runs on the same libgomp threads, serially inside ATen's parallel regions, so
// both can use every core. OpenBLAS's pthreads build keeps a second pool of busy-waiting
// threads; sized to every core next to an OpenMP team of every core, the two pools take turns
// spinning on the same cores. The build loads the OpenMP one where it is installed
// (cmake/SelmDependencies.cmake); when the pthreads one is loaded anyway, the default gives the
// cores to BLAS and runs ATen's own loops on one thread, which measured fastest with that build.
#pragma once

#include <cstdint>
#include <string>

namespace selm {

// The BLAS that serves LibTorch's matmul in this process, as OpenBLAS reports it.
enum class BlasThreading { openmp, pthreads, serial, unknown };
const char* blas_threading_name(BlasThreading threading);

struct CpuThreadPools {
  int cores = 1;             // the cores of this process's affinity mask (every core when unrestricted)
  int torch_threads = 1;     // ATen's intra-op OpenMP threads (at::get_num_threads)
  int torch_interop_threads = 1;
  BlasThreading blas = BlasThreading::unknown;
  int blas_threads = -1;     // OpenBLAS's own count; -1 when the BLAS is not OpenBLAS
  std::string blas_config;   // openblas_get_config(): version, core type, threading
};

// The cores this process may run on: its affinity mask (taskset, a SLURM job's cpuset, a
// container's cpus), not every core of the machine. Sizing the pools to the machine inside a
// smaller mask puts several spinning threads on each allowed core.
int machine_cores();

// Sizes both pools for `requested` threads by the rule above, and returns them. 0 means every core
// of the process's affinity mask, or OMP_NUM_THREADS when that is set to a count.
// With the pthreads build and requested == 0 it logs one warning naming the package to install.
CpuThreadPools configure_cpu_threads(std::int64_t requested);

// The pools as they are now.
CpuThreadPools cpu_thread_pools();

// While it lives, ATen (and OpenBLAS's OpenMP build, which follows it) runs on one thread when
// `active`; the previous count comes back after. For work whose ops are so small that joining a
// second thread per op costs more than it saves.
class SingleThreadScope {
 public:
  explicit SingleThreadScope(bool active);
  ~SingleThreadScope();
  SingleThreadScope(const SingleThreadScope&) = delete;
  SingleThreadScope& operator=(const SingleThreadScope&) = delete;

 private:
  int previous_ = 0;  // 0 when nothing was changed
};

}  // namespace selm
