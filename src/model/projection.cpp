#include "selm/model/projection.hpp"

#include <cmath>

namespace selm {

ProjectionImpl::ProjectionImpl(std::int64_t in_features, std::int64_t out_features) {
  weight = register_parameter("weight", torch::empty({out_features, in_features}));
  torch::nn::init::kaiming_uniform_(weight, std::sqrt(5.0));
}

torch::Tensor ProjectionImpl::forward(const torch::Tensor& x) {
  // One row (a decode step of one sequence): a matrix-vector product. linear() would run it as
  // a matrix product with one row, which BLAS does about 3x slower, and decoding one sequence
  // is bound by how fast the weights stream through.
  if (x.numel() == in_features()) {
    auto sizes = x.sizes().vec();
    sizes.back() = out_features();
    return torch::mv(weight, x.reshape({in_features()})).view(sizes);
  }
  // The function torch::nn::Linear calls, so that the kernels, and the results, are the same.
  return torch::nn::functional::linear(x, weight);
}

}  // namespace selm
