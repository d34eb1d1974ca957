#include "selm/model/kv_cache.hpp"

#include <stdexcept>
#include <string>

namespace selm {

KVCache::KVCache(std::int64_t num_layers, std::int64_t batch_size, std::int64_t num_kv_heads,
                 std::int64_t max_length, std::int64_t head_dim, const torch::TensorOptions& options)
    : capacity_(max_length) {
  if (num_layers < 1 || batch_size < 1 || num_kv_heads < 1 || max_length < 1 || head_dim < 1) {
    throw std::invalid_argument("KVCache: all sizes must be positive");
  }
  keys_.reserve(static_cast<std::size_t>(num_layers));
  values_.reserve(static_cast<std::size_t>(num_layers));
  for (std::int64_t layer = 0; layer < num_layers; ++layer) {
    keys_.push_back(torch::zeros({batch_size, num_kv_heads, max_length, head_dim}, options));
    values_.push_back(torch::zeros({batch_size, num_kv_heads, max_length, head_dim}, options));
  }
}

std::pair<torch::Tensor, torch::Tensor> KVCache::append(std::int64_t layer, const torch::Tensor& new_keys,
                                                        const torch::Tensor& new_values) {
  if (layer < 0 || layer >= num_layers()) {
    throw std::out_of_range("KVCache::append: layer " + std::to_string(layer) + " out of range");
  }
  auto& keys = keys_[static_cast<std::size_t>(layer)];
  auto& values = values_[static_cast<std::size_t>(layer)];
  const std::int64_t count = new_keys.size(2);
  const std::int64_t end = length_ + count;
  if (end > capacity_) {
    throw std::length_error("KVCache::append: " + std::to_string(end) + " positions exceed the capacity " +
                            std::to_string(capacity_));
  }
  if (new_keys.size(0) != keys.size(0) || new_values.sizes() != new_keys.sizes()) {
    throw std::invalid_argument("KVCache::append: batch or shape mismatch");
  }
  keys.narrow(2, length_, count).copy_(new_keys);
  values.narrow(2, length_, count).copy_(new_values);
  return {keys.narrow(2, 0, end), values.narrow(2, 0, end)};
}

void KVCache::advance(std::int64_t count) {
  if (count < 0 || length_ + count > capacity_) {
    throw std::length_error("KVCache::advance: length would leave [0, capacity]");
  }
  length_ += count;
}

void KVCache::select_rows(const torch::Tensor& rows) {
  for (auto& keys : keys_) keys = keys.index_select(0, rows.to(keys.device()));
  for (auto& values : values_) values = values.index_select(0, rows.to(values.device()));
}

std::int64_t KVCache::batch_size() const { return keys_.front().size(0); }

}  // namespace selm
