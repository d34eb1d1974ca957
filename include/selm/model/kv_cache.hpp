// Key/value cache for incremental decoding.
//
// One preallocated pair of tensors per layer, k and v: (B, n_kv, T_max, head_dim), in the model's
// dtype and device. Slots [0, length()) hold the keys/values of the tokens seen so far (pads
// included: the attention mask says which slots are real). A forward pass over T new tokens
// writes slots [length(), length() + T) of every layer through `append`, then the model calls
// `advance(T)` once; no tensor is concatenated or reallocated per step.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include <torch/torch.h>

namespace selm {

class KVCache {
 public:
  // `options` carries the dtype and device (those of the model's parameters).
  KVCache(std::int64_t num_layers, std::int64_t batch_size, std::int64_t num_kv_heads, std::int64_t max_length,
          std::int64_t head_dim, const torch::TensorOptions& options);

  // Writes this forward pass's keys/values of `layer` at slots [length(), length() + T) and
  // returns views of slots [0, length() + T) of that layer (length() itself does not move).
  // new_keys, new_values: (B, n_kv, T, head_dim); returned: (B, n_kv, length() + T, head_dim) each.
  std::pair<torch::Tensor, torch::Tensor> append(std::int64_t layer, const torch::Tensor& new_keys,
                                                 const torch::Tensor& new_values);

  // Marks `count` more slots as filled (called by the model after all layers appended).
  void advance(std::int64_t count);

  // Keeps only the batch rows `rows` (int64 indices, any device), in that order: drops finished
  // sequences or reorders the batch. The capacity per row is unchanged.
  void select_rows(const torch::Tensor& rows);

  // Forgets the contents (length 0); the storage is kept for reuse.
  void reset() { length_ = 0; }

  std::int64_t length() const { return length_; }
  std::int64_t capacity() const { return capacity_; }
  std::int64_t batch_size() const;
  std::int64_t num_layers() const { return static_cast<std::int64_t>(keys_.size()); }

 private:
  std::vector<torch::Tensor> keys_;    // per layer: (B, n_kv, T_max, head_dim)
  std::vector<torch::Tensor> values_;  // per layer: (B, n_kv, T_max, head_dim)
  std::int64_t capacity_ = 0;
  std::int64_t length_ = 0;
};

}  // namespace selm
