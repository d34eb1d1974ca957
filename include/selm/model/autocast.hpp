// LibTorch's autocast (ops such as linear and matmul run in a lower-precision dtype while the
// weights stay float32) behind one interface: the calls that switch it differ between LibTorch
// 1.13 (per-device functions) and 2.4+ (functions taking the device type), and only
// src/model/autocast.cpp knows which.
//
// Autocast is a thread-local state, one (enabled, dtype) per device type. AutocastScope sets it
// for its lifetime and puts the previous state back on exit, so scopes nest; the cache of casted
// weights is emptied when the outermost scope ends, as Python's torch.autocast does.
#pragma once

#include <c10/core/DeviceType.h>
#include <c10/core/ScalarType.h>

namespace selm {

// The autocast settings of the calling thread.
struct AutocastState {
  bool cpu_enabled = false;
  c10::ScalarType cpu_dtype = c10::ScalarType::BFloat16;
  bool cuda_enabled = false;
  c10::ScalarType cuda_dtype = c10::ScalarType::Half;
  bool cache_enabled = true;  // casted weights are kept for the outermost scope's lifetime

  bool enabled_for(c10::DeviceType device_type) const;
};

bool operator==(const AutocastState& a, const AutocastState& b);

AutocastState current_autocast_state();

class AutocastScope {
 public:
  // Autocast on `device_type` (CPU or CUDA) in `dtype` when `enabled`, and explicitly off when
  // not (as torch.autocast(enabled=False) turns an enclosing scope off). Other device types are
  // an std::invalid_argument.
  AutocastScope(c10::DeviceType device_type, c10::ScalarType dtype, bool enabled);
  // Exactly `state` for every device type: replays a state captured earlier (recomputation in
  // backward runs as its forward did).
  explicit AutocastScope(const AutocastState& state);
  ~AutocastScope();

  AutocastScope(const AutocastScope&) = delete;
  AutocastScope& operator=(const AutocastScope&) = delete;

 private:
  AutocastState previous_;
};

}  // namespace selm
