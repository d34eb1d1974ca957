#include "selm/model/fused_ops.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

#include <ATen/Parallel.h>
#include <ATen/record_function.h>
#include <torch/torch.h>

#include "vector_loops.hpp"

namespace selm {

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// Rows per work item of the loops: a fixed split, so that reductions over rows (the weight
// gradient) add the same partial sums in the same order whatever the thread count.
constexpr std::int64_t kRowBlock = 64;

bool plain_float_cpu(const torch::Tensor& tensor) {
  return tensor.device().is_cpu() && tensor.scalar_type() == torch::kFloat;
}

// ---------------------------------------------------------------------------------------------
// RMSNorm

torch::Tensor composed_rms_norm(const torch::Tensor& x, const torch::Tensor& weight, double eps) {
  const auto x_float = x.to(torch::kFloat);
  const auto normalised = x_float * torch::rsqrt(x_float.pow(2).mean(-1, /*keepdim=*/true) + eps);
  return weight * normalised.to(x.scalar_type());
}

struct RmsNormFunction : torch::autograd::Function<RmsNormFunction> {
  // x: (N, C) contiguous float32; weight: (C) -> (N, C)
  static torch::Tensor forward(AutogradContext* context, const torch::Tensor& x, const torch::Tensor& weight,
                               double eps) {
    const std::int64_t rows = x.size(0), width = x.size(1);
    auto output = torch::empty_like(x);
    auto inverse_rms = torch::empty({rows}, x.options());
    const float* in = x.data_ptr<float>();
    const float* w = weight.data_ptr<float>();
    float* out = output.data_ptr<float>();
    float* inv = inverse_rms.data_ptr<float>();
    at::parallel_for(0, rows, kRowBlock, [&](std::int64_t begin, std::int64_t end) {
      for (std::int64_t row = begin; row < end; ++row) {
        const float* x_row = in + row * width;
        double squares = 0;
        for (std::int64_t c = 0; c < width; ++c) squares += static_cast<double>(x_row[c]) * x_row[c];
        const float r = static_cast<float>(1.0 / std::sqrt(squares / static_cast<double>(width) + eps));
        inv[row] = r;
        float* out_row = out + row * width;
        for (std::int64_t c = 0; c < width; ++c) out_row[c] = w[c] * (x_row[c] * r);
      }
    });
    context->save_for_backward({x, weight, inverse_rms});
    return output;
  }

  // With n = x * r: dx = r * (g*w - n * mean(g*w*n)), dweight = sum over rows of g * n.
  static variable_list backward(AutogradContext* context, variable_list output_grads) {
    const auto saved = context->get_saved_variables();
    const torch::Tensor &x = saved[0], &weight = saved[1], &inverse_rms = saved[2];
    const auto grad = output_grads[0].contiguous();
    const std::int64_t rows = x.size(0), width = x.size(1);
    const std::int64_t blocks = (rows + kRowBlock - 1) / kRowBlock;
    auto grad_x = torch::empty_like(x);
    auto block_weight_grads = torch::zeros({blocks, width}, x.options().dtype(torch::kDouble));
    const float* in = x.data_ptr<float>();
    const float* w = weight.data_ptr<float>();
    const float* g = grad.data_ptr<float>();
    const float* inv = inverse_rms.data_ptr<float>();
    float* out = grad_x.data_ptr<float>();
    double* partial = block_weight_grads.data_ptr<double>();
    at::parallel_for(0, blocks, 1, [&](std::int64_t block_begin, std::int64_t block_end) {
      for (std::int64_t block = block_begin; block < block_end; ++block) {
        double* block_partial = partial + block * width;
        for (std::int64_t row = block * kRowBlock; row < std::min(rows, (block + 1) * kRowBlock); ++row) {
          const float *x_row = in + row * width, *g_row = g + row * width;
          const float r = inv[row];
          double dot = 0;
          for (std::int64_t c = 0; c < width; ++c) {
            const float n = x_row[c] * r;
            dot += static_cast<double>(g_row[c] * w[c]) * n;
            block_partial[c] += static_cast<double>(g_row[c]) * n;
          }
          const float mean_dot = static_cast<float>(dot / static_cast<double>(width));
          float* out_row = out + row * width;
          for (std::int64_t c = 0; c < width; ++c) out_row[c] = r * (g_row[c] * w[c] - x_row[c] * r * mean_dot);
        }
      }
    });
    const auto grad_weight = block_weight_grads.sum(0).to(torch::kFloat);
    return {grad_x, grad_weight, torch::Tensor()};
  }
};

// ---------------------------------------------------------------------------------------------
// Rotary embedding

torch::Tensor rotate_half(const torch::Tensor& x) {
  const std::int64_t half = x.size(-1) / 2;
  return torch::cat({-x.narrow(-1, half, half), x.narrow(-1, 0, half)}, -1);
}

torch::Tensor composed_rotary(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin) {
  const auto cos_heads = cos.unsqueeze(1).to(x.scalar_type());  // (B, 1, T, D)
  const auto sin_heads = sin.unsqueeze(1).to(x.scalar_type());
  return x * cos_heads + rotate_half(x) * sin_heads;
}

// out = x*cos + rotate_half(x)*sin when `inverse` is false; its transpose
// (dx1 = g1*c1 + g2*s2, dx2 = g2*c2 - g1*s1) when true. in: (B, H, T, D) with strides
// `in_strides`; cos, sin: (B, T, D) contiguous; out: (B, H, T, D) contiguous.
void rotary_loop(const float* in, const std::vector<std::int64_t>& in_strides, const float* cos, const float* sin,
                 float* out, std::int64_t batch, std::int64_t heads, std::int64_t tokens, std::int64_t dim,
                 bool inverse) {
  const std::int64_t half = dim / 2;
  at::parallel_for(0, batch * heads, vector_loops::task_grain(tokens * dim), [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t index = begin; index < end; ++index) {
      const std::int64_t b = index / heads, h = index % heads;
      for (std::int64_t t = 0; t < tokens; ++t) {
        const float* x = in + b * in_strides[0] + h * in_strides[1] + t * in_strides[2];
        const std::int64_t stride = in_strides[3];
        const float* c = cos + (b * tokens + t) * dim;
        const float* s = sin + (b * tokens + t) * dim;
        float* y = out + ((index * tokens) + t) * dim;
        for (std::int64_t i = 0; i < half; ++i) {
          const float x1 = x[i * stride], x2 = x[(i + half) * stride];
          if (inverse) {
            y[i] = x1 * c[i] + x2 * s[i + half];
            y[i + half] = x2 * c[i + half] - x1 * s[i];
          } else {
            y[i] = x1 * c[i] + (-x2) * s[i];
            y[i + half] = x2 * c[i + half] + x1 * s[i + half];
          }
        }
      }
    }
  });
}

struct RotaryFunction : torch::autograd::Function<RotaryFunction> {
  static torch::Tensor forward(AutogradContext* context, const torch::Tensor& x, const torch::Tensor& cos,
                               const torch::Tensor& sin) {
    auto output = torch::empty(x.sizes(), x.options());
    rotary_loop(x.data_ptr<float>(), x.strides().vec(), cos.data_ptr<float>(), sin.data_ptr<float>(),
                output.data_ptr<float>(), x.size(0), x.size(1), x.size(2), x.size(3), /*inverse=*/false);
    context->save_for_backward({cos, sin});
    return output;
  }

  static variable_list backward(AutogradContext* context, variable_list output_grads) {
    const auto saved = context->get_saved_variables();
    const auto grad = output_grads[0];
    auto grad_x = torch::empty(grad.sizes(), grad.options());
    rotary_loop(grad.data_ptr<float>(), grad.strides().vec(), saved[0].data_ptr<float>(), saved[1].data_ptr<float>(),
                grad_x.data_ptr<float>(), grad.size(0), grad.size(1), grad.size(2), grad.size(3), /*inverse=*/true);
    return {grad_x, torch::Tensor(), torch::Tensor()};
  }
};

// ---------------------------------------------------------------------------------------------
// SwiGLU

struct SwigluFunction : torch::autograd::Function<SwigluFunction> {
  static torch::Tensor forward(AutogradContext* context, const torch::Tensor& gate, const torch::Tensor& up) {
    context->save_for_backward({gate, up});
    return torch::silu(gate).mul_(up);
  }

  static variable_list backward(AutogradContext* context, variable_list output_grads) {
    const auto saved = context->get_saved_variables();
    const torch::Tensor &gate = saved[0], &up = saved[1];
    const auto& grad = output_grads[0];
    const auto grad_up = torch::silu(gate).mul_(grad);
    const auto grad_gate = torch::silu_backward(grad * up, gate);
    return {grad_gate, grad_up};
  }
};

}  // namespace

torch::Tensor rms_norm(const torch::Tensor& x, const torch::Tensor& weight, double eps) {
  RECORD_FUNCTION("selm::rms_norm", std::vector<c10::IValue>());  // named in profiles
  if (!plain_float_cpu(x) || !plain_float_cpu(weight) || !weight.is_contiguous()) {
    return composed_rms_norm(x, weight, eps);
  }
  const std::int64_t width = x.size(-1);
  const auto rows = x.contiguous().view({-1, width});
  return RmsNormFunction::apply(rows, weight, eps).view(x.sizes());
}

torch::Tensor rotary_embedding(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin) {
  RECORD_FUNCTION("selm::rotary_embedding", std::vector<c10::IValue>());
  if (!plain_float_cpu(x) || !plain_float_cpu(cos) || !plain_float_cpu(sin) || x.dim() != 4) {
    return composed_rotary(x, cos, sin);
  }
  return RotaryFunction::apply(x, cos.contiguous(), sin.contiguous());
}

torch::Tensor swiglu(const torch::Tensor& gate, const torch::Tensor& up) { return SwigluFunction::apply(gate, up); }

}  // namespace selm
