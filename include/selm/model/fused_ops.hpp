// The decoder's elementwise steps as single functions with backwards of their own.
//
// Composed of ATen ops, each step reads and writes its (tokens, width) activations several times
// and leaves autograd several of them to keep until backward. Fused, each reads its inputs
// once and keeps only what its backward cannot recompute cheaply. On the CPU in float32 with
// contiguous rows, RMSNorm and the rotary embedding run as plain loops (rows spread over ATen's
// threads, each row computed whole by one thread, so a row's result never depends on the batch
// it is in); otherwise, and for other devices and dtypes, they are the composed ops.
#pragma once

#include <torch/types.h>

namespace selm {

// weight * (x / sqrt(mean(x^2) + eps)), the statistics in float32 (transformers' LlamaRMSNorm).
// x: (..., C); weight: (C) -> (..., C) in x's dtype.
torch::Tensor rms_norm(const torch::Tensor& x, const torch::Tensor& weight, double eps);

// x * cos + rotate_half(x) * sin, rotate_half([x1, x2]) = [-x2, x1] with the halves of D.
// x: (B, heads, T, D), any strides; cos, sin: (B, T, D) float32 -> (B, heads, T, D) contiguous.
torch::Tensor rotary_embedding(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin);

// silu(gate) * up, keeping only gate and up for backward (silu is recomputed there).
// gate, up: (..., I) -> (..., I)
torch::Tensor swiglu(const torch::Tensor& gate, const torch::Tensor& up);

}  // namespace selm
