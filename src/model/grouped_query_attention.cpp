// grouped_query_attention: the eager attention kernel. On the CPU in float32 it runs one
// (row, key/value head) slice at a time, with a backward of its own; elsewhere it is the plain
// composition of batched matmuls and a softmax.
//
// Why slices: a batched matmul over B * heads small matrices costs one BLAS call per matrix,
// each split across the cores, which on a CPU spends more on threading than on arithmetic, and
// the composed ops read and write the (B, H, T, S) scores five or six times. Here each slice is
// handled by one thread (OpenBLAS's OpenMP build and ATen both run serially inside a parallel
// region) in a scratch buffer that stays in cache, and the slices spread over the cores.
// Why a backward of its own: autograd through the composed ops keeps the (B, H, T, S) float
// probabilities of every layer alive until backward. This keeps only the inputs and recomputes
// each slice's probabilities, with the forward's own code, when its gradient is taken.
#include <dlfcn.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include <ATen/Parallel.h>
#include <ATen/record_function.h>
#include <torch/torch.h>

#include "selm/model/llama.hpp"
#include "vector_loops.hpp"

namespace selm {

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;
using vector_loops::add_scaled;
using vector_loops::dot_products;

// The lowest finite value rather than -inf: a query with no visible key (a pad) then gets a
// uniform, finite distribution instead of NaN.
constexpr float kBlockedScore = std::numeric_limits<float>::lowest();

// Fortran BLAS sgemm, as libtorch_cpu's own BLAS exports it; looked up rather than linked, since a
// LibTorch built on MKL exports none (the composed kernel then serves).
using SgemmFunction = void (*)(const char*, const char*, const int*, const int*, const int*, const float*,
                               const float*, const int*, const float*, const int*, const float*, float*, const int*);

SgemmFunction blas_sgemm() {
  static const auto function = reinterpret_cast<SgemmFunction>(dlsym(RTLD_DEFAULT, "sgemm_"));
  return function;
}

// Row-major C (m x n) = alpha * op(A) (m x k) @ op(B) (k x n) + beta * C, where lda, ldb, ldc are
// row strides. BLAS is column-major: a row-major matrix is its transpose there, so this computes
// C^T = op(B)^T op(A)^T.
void gemm(bool transpose_a, bool transpose_b, std::int64_t m, std::int64_t n, std::int64_t k, float alpha,
          const float* a, std::int64_t lda, const float* b, std::int64_t ldb, float beta, float* c, std::int64_t ldc) {
  const char op_b = transpose_b ? 'T' : 'N', op_a = transpose_a ? 'T' : 'N';
  const int rows = static_cast<int>(n), cols = static_cast<int>(m), inner = static_cast<int>(k);
  const int ld_b = static_cast<int>(ldb), ld_a = static_cast<int>(lda), ld_c = static_cast<int>(ldc);
  blas_sgemm()(&op_b, &op_a, &rows, &cols, &inner, &alpha, b, &ld_b, a, &ld_a, &beta, c, &ld_c);
}

// The shapes of one call, with G query heads per key/value head (transformers' repeat_kv: query
// heads h*G .. h*G + G-1 share key/value head h, and contiguous they form one (G*T, D) matrix).
struct Slices {
  std::int64_t batch, num_kv_heads, group, queries, keys, head_dim;
  float scale;
  std::int64_t rows() const { return group * queries; }  // query rows per slice
};

Slices slices_of(const torch::Tensor& q, const torch::Tensor& k) {
  const std::int64_t num_heads = q.size(1), num_kv_heads = k.size(1);
  return {q.size(0), num_kv_heads, num_heads / num_kv_heads, q.size(2), k.size(2), q.size(3),
          static_cast<float>(1.0 / std::sqrt(static_cast<double>(q.size(3))))};
}

// Calls work(b, h) for every slice, the slices spread over ATen's threads.
template <typename Work>
void for_each_slice(const Slices& s, const Work& work) {
  const std::int64_t grain = vector_loops::task_grain(s.rows() * s.keys * s.head_dim);
  at::parallel_for(0, s.batch * s.num_kv_heads, grain, [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t index = begin; index < end; ++index) work(index / s.num_kv_heads, index % s.num_kv_heads);
  });
}

// One thread's scratch matrices, (G*T, S) floats each, kept between calls.
struct SliceScratch {
  std::vector<float> scores, probs, grad;
  torch::Tensor view(std::vector<float>& buffer, const Slices& s) {
    buffer.resize(static_cast<std::size_t>(s.rows() * s.keys));
    return torch::from_blob(buffer.data(), {s.rows(), s.keys}, torch::kFloat);
  }
};

SliceScratch& thread_scratch() {
  thread_local SliceScratch scratch;
  return scratch;
}

// probs = softmax(scale * q k^T, blocked keys at kBlockedScore) for one slice.
// q: (G*T, D) rows of stride D; k: (S, D) rows of stride k_stride; blocked: (T, S) bools.
void slice_probabilities(const Slices& s, const float* q, const float* k, std::int64_t k_stride, const bool* blocked,
                         SliceScratch& scratch, torch::Tensor& probs) {
  torch::Tensor scores = scratch.view(scratch.scores, s);
  float* score = scores.data_ptr<float>();
  gemm(false, true, s.rows(), s.keys, s.head_dim, s.scale, q, s.head_dim, k, k_stride, 0.0f, score, s.keys);
  for (std::int64_t row = 0; row < s.rows(); ++row) {
    const bool* row_blocked = blocked + (row % s.queries) * s.keys;
    float* row_score = score + row * s.keys;
    for (std::int64_t key = 0; key < s.keys; ++key) row_score[key] = row_blocked[key] ? kBlockedScore : row_score[key];
  }
  probs = scratch.view(scratch.probs, s);
  at::_softmax_out(probs, scores, -1, false);
}

// What the forward kernels read and write: q with its heads contiguous (so that a slice's G
// query heads form one (G*T, D) matrix), and a fresh (B, H, T, D) output.
struct ForwardData {
  ForwardData(const Slices& s, const torch::Tensor& query, const torch::Tensor& key, const torch::Tensor& value,
              const torch::Tensor& blocked_keys)
      : grouped_q(query.contiguous()),
        output(torch::empty({s.batch, s.num_kv_heads * s.group, s.queries, s.head_dim}, query.options())),
        q(grouped_q.data_ptr<float>()),
        k(key.data_ptr<float>()),
        v(value.data_ptr<float>()),
        blocked(blocked_keys.data_ptr<bool>()),
        out(output.data_ptr<float>()) {}
  torch::Tensor grouped_q, output;
  const float *q, *k, *v;
  const bool* blocked;
  float* out;
};

struct SlicedAttention : torch::autograd::Function<SlicedAttention> {
  // q: (B, H, T, D) float32; k, v: (B, n_kv, S, D) float32 with unit inner stride;
  // blocked: (B, T, S) bool contiguous -> (B, H, T, D)
  static torch::Tensor forward(AutogradContext* context, const torch::Tensor& q, const torch::Tensor& k,
                               const torch::Tensor& v, const torch::Tensor& blocked) {
    const Slices s = slices_of(q, k);
    const ForwardData data(s, q, k, v, blocked);
    const float *q_data = data.q, *k_data = data.k, *v_data = data.v;
    const bool* blocked_data = data.blocked;
    float* out_data = data.out;
    const std::int64_t slice_elements = s.rows() * s.head_dim;
    for_each_slice(s, [&](std::int64_t b, std::int64_t h) {
      SliceScratch& scratch = thread_scratch();
      torch::Tensor probs;
      const std::int64_t slice = b * s.num_kv_heads + h;
      slice_probabilities(s, q_data + slice * slice_elements, k_data + b * k.stride(0) + h * k.stride(1), k.stride(2),
                          blocked_data + b * s.queries * s.keys, scratch, probs);
      gemm(false, false, s.rows(), s.head_dim, s.keys, 1.0f, probs.data_ptr<float>(), s.keys,
           v_data + b * v.stride(0) + h * v.stride(1), v.stride(2), 0.0f, out_data + slice * slice_elements, s.head_dim);
    });
    context->save_for_backward({data.grouped_q, k, v, blocked});
    return data.output;
  }

  static variable_list backward(AutogradContext* context, variable_list output_grads) {
    const auto saved = context->get_saved_variables();
    const torch::Tensor &grouped_q = saved[0], &k = saved[1], &v = saved[2], &blocked = saved[3];
    const Slices s = slices_of(grouped_q, k);
    const auto grad_output = output_grads[0].contiguous();  // (B, H, T, D)
    // Every slice of the three gradients is written whole, so empty buffers suffice.
    auto grad_q = torch::empty_like(grouped_q);
    auto grad_k = torch::empty({s.batch, s.num_kv_heads, s.keys, s.head_dim}, k.options());
    auto grad_v = torch::empty({s.batch, s.num_kv_heads, s.keys, s.head_dim}, v.options());
    const float* q_data = grouped_q.data_ptr<float>();
    const float* k_data = k.data_ptr<float>();
    const float* v_data = v.data_ptr<float>();
    const float* grad_out_data = grad_output.data_ptr<float>();
    const bool* blocked_data = blocked.data_ptr<bool>();
    const std::int64_t slice_elements = s.rows() * s.head_dim, kv_elements = s.keys * s.head_dim;
    for_each_slice(s, [&](std::int64_t b, std::int64_t h) {
      SliceScratch& scratch = thread_scratch();
      const std::int64_t slice = b * s.num_kv_heads + h;
      const float* q_slice = q_data + slice * slice_elements;
      const float* k_slice = k_data + b * k.stride(0) + h * k.stride(1);
      const float* v_slice = v_data + b * v.stride(0) + h * v.stride(1);
      const float* grad_slice = grad_out_data + slice * slice_elements;
      const bool* slice_blocked = blocked_data + b * s.queries * s.keys;
      torch::Tensor probs;
      slice_probabilities(s, q_slice, k_slice, k.stride(2), slice_blocked, scratch, probs);
      const float* p = probs.data_ptr<float>();
      // Through probs @ v: the value gradient sums over the G query heads of the slice.
      gemm(true, false, s.keys, s.head_dim, s.rows(), 1.0f, p, s.keys, grad_slice, s.head_dim, 0.0f,
           grad_v.data_ptr<float>() + slice * kv_elements, s.head_dim);
      torch::Tensor grad_probs = scratch.view(scratch.grad, s);
      gemm(false, true, s.rows(), s.keys, s.head_dim, 1.0f, grad_slice, s.head_dim, v_slice, v.stride(2), 0.0f,
           grad_probs.data_ptr<float>(), s.keys);
      // Through the softmax, into the scores' buffer (no longer needed).
      torch::Tensor grad_scores = scratch.view(scratch.scores, s);
      at::_softmax_backward_data_out(grad_scores, grad_probs, probs, -1, torch::kFloat);
      // Through the mask: no gradient reaches a blocked score. Elsewhere in a row with a visible
      // key the probability of a blocked key is exactly 0, and so is its gradient already; only
      // a row with no visible key at all (uniform probabilities) needs zeroing.
      float* grad_score = grad_scores.data_ptr<float>();
      for (std::int64_t row = 0; row < s.rows(); ++row) {
        const bool* row_blocked = slice_blocked + (row % s.queries) * s.keys;
        bool any_visible = false;
        for (std::int64_t key = 0; key < s.keys && !any_visible; ++key) any_visible = !row_blocked[key];
        if (!any_visible) std::fill(grad_score + row * s.keys, grad_score + (row + 1) * s.keys, 0.0f);
      }
      // Through the scaled q k^T.
      gemm(false, false, s.rows(), s.head_dim, s.keys, s.scale, grad_score, s.keys, k_slice, k.stride(2), 0.0f,
           grad_q.data_ptr<float>() + slice * slice_elements, s.head_dim);
      gemm(true, false, s.keys, s.head_dim, s.rows(), s.scale, grad_score, s.keys, q_slice, s.head_dim, 0.0f,
           grad_k.data_ptr<float>() + slice * kv_elements, s.head_dim);
    });
    return {grad_q, grad_k, grad_v, torch::Tensor()};
  }
};

// The same attention composed of batched matmuls and a softmax, for other devices and dtypes.
torch::Tensor batched_attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                                const torch::Tensor& blocked) {
  const Slices s = slices_of(q, k);
  const auto grouped_q = q.reshape({s.batch, s.num_kv_heads, s.rows(), s.head_dim});
  auto scores = torch::matmul(grouped_q, k.transpose(-2, -1)).to(torch::kFloat).mul_(s.scale);  // (B, n_kv, G*T, S)
  scores.view({s.batch, s.num_kv_heads, s.group, s.queries, s.keys})
      .masked_fill_(blocked.view({s.batch, 1, 1, s.queries, s.keys}), kBlockedScore);
  const auto probs = torch::softmax(scores, -1).to(v.scalar_type()).view({s.batch, s.num_kv_heads, s.rows(), s.keys});
  return torch::matmul(probs, v).view({s.batch, s.group * s.num_kv_heads, s.queries, s.head_dim});
}

// e^x for x <= 0 (a score minus its row's maximum), within 2 ulp of std::exp: x = n ln2 + r with
// |r| <= ln2 / 2, e^r by its Taylor polynomial to degree 7, times 2^n built in the exponent bits.
// Written without branches so that the compiler vectorizes the loop it sits in; std::exp is
// a library call per element. Below -87 (e^x < 1.7e-38, a float's smallest normal) it is 0.
inline float exp_of_nonpositive(float x) {
  constexpr float kLog2e = 1.44269504088896341f;
  constexpr float kLn2High = 0.693359375f, kLn2Low = -2.12194440e-4f;  // ln 2 split for exact n * ln2
  const float clamped = std::max(x, -87.0f);
  // Round to nearest by the 1.5 * 2^23 trick: std::nearbyint is a library call without SSE4.1.
  constexpr float kRoundingShift = 12582912.0f;
  const float n = (clamped * kLog2e + kRoundingShift) - kRoundingShift;
  const float r = (clamped - n * kLn2High) - n * kLn2Low;
  float p = 1.0f / 5040.0f;
  p = p * r + 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  const std::int32_t bits = (static_cast<std::int32_t>(n) + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, sizeof(scale));
  return x < -87.0f ? 0.0f : p * scale;
}

// A few query rows per slice (a decode step: one query per row and head), no gradient: plain
// vectorized loops, a dot product per visible key. A BLAS call or an ATen op per slice costs
// more than its arithmetic (a batched matmul makes a select and a BLAS call per (row, head)).
// Same inputs as SlicedAttention::forward.
torch::Tensor few_query_attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                                  const torch::Tensor& blocked) {
  const Slices s = slices_of(q, k);
  const ForwardData data(s, q, k, v, blocked);
  const float *q_data = data.q, *k_data = data.k, *v_data = data.v;
  const bool* blocked_data = data.blocked;
  float* out_data = data.out;
  const std::int64_t dim = s.head_dim;
  for_each_slice(s, [&](std::int64_t b, std::int64_t h) {
    std::vector<float>& weights = thread_scratch().probs;  // kept between calls: no allocation per slice
    weights.resize(static_cast<std::size_t>(s.keys));
    float* weight = weights.data();
    const float* k_slice = k_data + b * k.stride(0) + h * k.stride(1);
    const float* v_slice = v_data + b * v.stride(0) + h * v.stride(1);
    const std::int64_t k_stride = k.stride(2), v_stride = v.stride(2);
    for (std::int64_t row = 0; row < s.rows(); ++row) {
      const std::int64_t slice_row = (b * s.num_kv_heads + h) * s.rows() + row;
      const float* query = q_data + slice_row * dim;
      const bool* row_blocked = blocked_data + (b * s.queries + row % s.queries) * s.keys;
      float largest = kBlockedScore;
      bool any_visible = false;
      dot_products(query, k_slice, k_stride, s.keys, dim, weight);
      for (std::int64_t key = 0; key < s.keys; ++key) {
        weight[key] = row_blocked[key] ? kBlockedScore : weight[key] * s.scale;
        largest = std::max(largest, weight[key]);
        any_visible = any_visible || !row_blocked[key];
      }
      float total = 0;
      for (std::int64_t key = 0; key < s.keys; ++key) {
        // A query with no visible key weighs every key alike, as the composed kernel does.
        weight[key] = !any_visible ? 1.0f : row_blocked[key] ? 0.0f : exp_of_nonpositive(weight[key] - largest);
        total += weight[key];
      }
      float* out_row = out_data + slice_row * dim;
      std::fill(out_row, out_row + dim, 0.0f);
      const float normaliser = 1.0f / total;
      for (std::int64_t key = 0; key < s.keys; ++key) {
        if (weight[key] != 0.0f) add_scaled(out_row, weight[key] * normaliser, v_slice + key * v_stride, dim);
      }
    }
  });
  return data.output;
}

// Below this many query rows per slice, the per-slice BLAS calls cost more than they save.
constexpr std::int64_t kSliceMinimumRows = 8;

}  // namespace

torch::Tensor grouped_query_attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                                      const torch::Tensor& allowed) {
  RECORD_FUNCTION("selm::grouped_query_attention", std::vector<c10::IValue>());  // named in profiles
  const auto blocked = allowed.squeeze(1).logical_not();  // (B, T, S)
  bool plain_float_cpu = blas_sgemm() != nullptr;
  for (const auto* tensor : {&q, &k, &v}) {
    plain_float_cpu = plain_float_cpu && tensor->device().is_cpu() && tensor->scalar_type() == torch::kFloat &&
                      tensor->stride(3) == 1;
  }
  if (!plain_float_cpu) return batched_attention(q, k, v, blocked);
  const bool needs_graph = torch::GradMode::is_enabled() && (q.requires_grad() || k.requires_grad() || v.requires_grad());
  if (!needs_graph && q.size(2) * (q.size(1) / k.size(1)) < kSliceMinimumRows) {
    return few_query_attention(q, k, v, blocked);
  }
  return SlicedAttention::apply(q, k, v, blocked);
}

}  // namespace selm
