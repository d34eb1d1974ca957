// Small vectorized loops and task sizing for the CPU kernels of the model (private to src/model).
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>

namespace selm::vector_loops {

// Items per parallel task, for items of `work_per_item` multiply-adds or elements: tasks of at
// least ATen's own grain (32768), so that a tiny step (a decode step of a small model) runs on
// one thread instead of paying a parallel region's wake-up and join for microseconds of work.
inline std::int64_t task_grain(std::int64_t work_per_item) {
  constexpr std::int64_t kMinimumTaskWork = 32768;
  return work_per_item >= kMinimumTaskWork ? 1 : (kMinimumTaskWork + work_per_item - 1) / std::max<std::int64_t>(1, work_per_item);
}

// Four floats in one SSE register (the x86-64 baseline): GCC's vector extension, so that the
// loops below are vectorized whatever the compiler's cost model decides.
typedef float Float4 __attribute__((vector_size(16)));

inline Float4 load4(const float* p) {
  Float4 v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

inline float horizontal_sum(Float4 v) { return (v[0] + v[1]) + (v[2] + v[3]); }

// scores[key] = q . k_key for `keys` rows of k (row stride k_stride), `dim` floats each. Four
// keys at a time: four independent chains of adds, and each load of q serves four keys.
inline void dot_products(const float* q, const float* k, std::int64_t k_stride, std::int64_t keys, std::int64_t dim,
                         float* scores) {
  std::int64_t key = 0;
  if (dim % 4 == 0) {
    for (; key + 4 <= keys; key += 4) {
      const float *k0 = k + key * k_stride, *k1 = k0 + k_stride, *k2 = k1 + k_stride, *k3 = k2 + k_stride;
      Float4 a0 = {0, 0, 0, 0}, a1 = a0, a2 = a0, a3 = a0;
      for (std::int64_t d = 0; d < dim; d += 4) {
        const Float4 query = load4(q + d);
        a0 += query * load4(k0 + d);
        a1 += query * load4(k1 + d);
        a2 += query * load4(k2 + d);
        a3 += query * load4(k3 + d);
      }
      scores[key] = horizontal_sum(a0);
      scores[key + 1] = horizontal_sum(a1);
      scores[key + 2] = horizontal_sum(a2);
      scores[key + 3] = horizontal_sum(a3);
    }
  }
  for (; key < keys; ++key) {
    const float* k_row = k + key * k_stride;
    float total = 0;
    for (std::int64_t d = 0; d < dim; ++d) total += q[d] * k_row[d];
    scores[key] = total;
  }
}

// out += share * v over `dim` floats.
inline void add_scaled(float* out, float share, const float* v, std::int64_t dim) {
  std::int64_t d = 0;
  for (; d + 4 <= dim; d += 4) {
    const Float4 sum = load4(out + d) + share * load4(v + d);
    std::memcpy(out + d, &sum, sizeof(sum));
  }
  for (; d < dim; ++d) out[d] += share * v[d];
}

}  // namespace selm::vector_loops
