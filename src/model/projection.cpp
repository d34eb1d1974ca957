#include "selm/model/projection.hpp"

#include <cmath>

namespace selm {

ProjectionImpl::ProjectionImpl(std::int64_t in_features, std::int64_t out_features) {
  weight = register_parameter("weight", torch::empty({out_features, in_features}));
  torch::nn::init::kaiming_uniform_(weight, std::sqrt(5.0));
}

torch::Tensor ProjectionImpl::forward(const torch::Tensor& x) {
  // The function torch::nn::Linear calls, so that the kernels, and the results, are the same.
  return torch::nn::functional::linear(x, weight);
}

}  // namespace selm
