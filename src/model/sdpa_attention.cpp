// The fused attention kernel: LibTorch's scaled_dot_product_attention (flash and
// memory-efficient kernels on CUDA, a fused kernel on the CPU), available from LibTorch 2.0.
// select_attention_kernel (llama.cpp) is the one place that chooses it; with LibTorch 1.13 it is
// refused there, and this file compiles to nothing.
#include <torch/torch.h>
#include <torch/version.h>

#include "selm/model/llama.hpp"

namespace selm {

#if TORCH_VERSION_MAJOR >= 2

torch::Tensor fused_grouped_query_attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                                            const torch::Tensor& allowed) {
  // Grouped-query heads: query head h*G + g reads key/value head h (transformers' repeat_kv).
  const std::int64_t group = q.size(1) / k.size(1);
  const torch::Tensor keys = group == 1 ? k : k.repeat_interleave(group, 1);      // (B, H, S, D)
  const torch::Tensor values = group == 1 ? v : v.repeat_interleave(group, 1);    // (B, H, S, D)
  // A query with no visible key (a pad) would get NaN from a fully masked softmax. The eager
  // kernel gives it the uniform distribution over all keys; a zero query with every key
  // visible gives exactly that, and no gradient reaches such a query in either kernel.
  const torch::Tensor has_visible_key = allowed.any(-1, /*keepdim=*/true);       // (B, 1, T, 1)
  const torch::Tensor mask = allowed.logical_or(has_visible_key.logical_not());    // (B, 1, T, S)
  const torch::Tensor queries = q * has_visible_key.to(q.scalar_type());           // (B, H, T, D)
  return at::scaled_dot_product_attention(queries, keys, values, mask);            // (B, H, T, D)
}

#endif

}  // namespace selm
