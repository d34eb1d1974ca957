// Bytes held by CPU tensors, counted at LibTorch's CPU allocator.
//
// The resident set size mixes tensors with everything else a process keeps (code, the malloc
// heap's free space, thread stacks); a benchmark that explains its memory needs the tensors' own
// share, and its peak during a phase. install_counting_cpu_allocator() puts a thin wrapper in
// front of LibTorch's CPU allocator that adds up what is allocated and freed; it is for
// measurement (`selm bench`), and costs one small bookkeeping record per allocation.
#pragma once

#include <cstdint>

namespace selm {

// Idempotent. Tensors allocated before the call are not counted.
void install_counting_cpu_allocator();

struct TensorMemory {
  std::int64_t current_bytes = 0;  // held by live CPU tensors now
  std::int64_t peak_bytes = 0;     // the most held at once since the last reset
};

TensorMemory cpu_tensor_memory();
// Starts a new peak at the current level.
void reset_peak_cpu_tensor_memory();

}  // namespace selm
