// The thread rule of util/cpu_threads.hpp: "every core" is every core of the process's affinity
// mask, or OMP_NUM_THREADS when that is set; an explicit count is taken as given.
#include <gtest/gtest.h>

#include <sched.h>
#include <stdlib.h>

#include <optional>
#include <string>

#include "selm/util/cpu_threads.hpp"

namespace selm {
namespace SELM_UNITY_ID {

// Restricts the calling thread to its first allowed CPU while it lives.
class PinnedToOneCpu {
 public:
  PinnedToOneCpu() {
    CPU_ZERO(&previous_);
    EXPECT_EQ(sched_getaffinity(0, sizeof(previous_), &previous_), 0);
    int first = 0;
    while (first < CPU_SETSIZE && !CPU_ISSET(first, &previous_)) ++first;
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(first, &one);
    EXPECT_EQ(sched_setaffinity(0, sizeof(one), &one), 0);
  }
  ~PinnedToOneCpu() { sched_setaffinity(0, sizeof(previous_), &previous_); }
  PinnedToOneCpu(const PinnedToOneCpu&) = delete;
  PinnedToOneCpu& operator=(const PinnedToOneCpu&) = delete;

 private:
  cpu_set_t previous_;
};

// Sets OMP_NUM_THREADS (or unsets it, for nullopt) while it lives; the test suite runs with it
// set to 1.
class OmpNumThreads {
 public:
  explicit OmpNumThreads(const std::optional<std::string>& value) {
    if (const char* previous = getenv("OMP_NUM_THREADS")) previous_ = previous;
    if (value) {
      setenv("OMP_NUM_THREADS", value->c_str(), 1);
    } else {
      unsetenv("OMP_NUM_THREADS");
    }
  }
  ~OmpNumThreads() {
    if (previous_) {
      setenv("OMP_NUM_THREADS", previous_->c_str(), 1);
    } else {
      unsetenv("OMP_NUM_THREADS");
    }
    configure_cpu_threads(0);
  }
  OmpNumThreads(const OmpNumThreads&) = delete;
  OmpNumThreads& operator=(const OmpNumThreads&) = delete;

 private:
  std::optional<std::string> previous_;
};

int allowed_cpus() {
  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  EXPECT_EQ(sched_getaffinity(0, sizeof(allowed), &allowed), 0);
  return CPU_COUNT(&allowed);
}

TEST(CpuThreads, EveryCoreMeansEveryCoreOfTheAffinityMask) {
  OmpNumThreads unset(std::nullopt);
  const auto pools = configure_cpu_threads(0);
  EXPECT_EQ(pools.cores, allowed_cpus());
  if (pools.blas != BlasThreading::pthreads) {
    EXPECT_EQ(pools.torch_threads, allowed_cpus());
  }
}

TEST(CpuThreads, OneAllowedCoreGivesOneThread) {
  OmpNumThreads unset(std::nullopt);
  PinnedToOneCpu pinned;
  const auto pools = configure_cpu_threads(0);
  EXPECT_EQ(pools.cores, 1);
  EXPECT_EQ(pools.torch_threads, 1);
}

TEST(CpuThreads, OmpNumThreadsSetsTheDefaultCount) {
  {
    OmpNumThreads three(std::string("3"));
    PinnedToOneCpu pinned;  // the variable wins over the mask, as in PyTorch
    EXPECT_EQ(configure_cpu_threads(0).torch_threads, 3);
  }
  {
    OmpNumThreads nested(std::string("2,1"));
    PinnedToOneCpu pinned;
    EXPECT_EQ(configure_cpu_threads(0).torch_threads, 2);
  }
  {
    OmpNumThreads garbage(std::string("many"));
    PinnedToOneCpu pinned;
    EXPECT_EQ(configure_cpu_threads(0).torch_threads, 1);  // ignored: the mask's one core
  }
}

TEST(CpuThreads, AnExplicitCountIsTakenAsGiven) {
  OmpNumThreads one(std::string("1"));
  PinnedToOneCpu pinned;
  const auto pools = configure_cpu_threads(3);
  EXPECT_EQ(pools.torch_threads, 3);
  if (pools.blas == BlasThreading::openmp) {
    EXPECT_EQ(pools.blas_threads, 3);
  }
}

}  // namespace
}  // namespace selm
