#include "selm/model/autocast.hpp"

#include <stdexcept>
#include <string>

#include <ATen/autocast_mode.h>
#include <torch/version.h>

// LibTorch 2.4 replaced the per-device functions (set_cpu_enabled, set_autocast_gpu_dtype, ...)
// by functions that take the device type.
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
#define SELM_AUTOCAST_BY_DEVICE_TYPE 1
#else
#define SELM_AUTOCAST_BY_DEVICE_TYPE 0
#endif

namespace selm {

namespace {

void apply_state(const AutocastState& state) {
#if SELM_AUTOCAST_BY_DEVICE_TYPE
  at::autocast::set_autocast_enabled(c10::DeviceType::CPU, state.cpu_enabled);
  at::autocast::set_autocast_dtype(c10::DeviceType::CPU, state.cpu_dtype);
  at::autocast::set_autocast_enabled(c10::DeviceType::CUDA, state.cuda_enabled);
  at::autocast::set_autocast_dtype(c10::DeviceType::CUDA, state.cuda_dtype);
#else
  at::autocast::set_cpu_enabled(state.cpu_enabled);
  at::autocast::set_autocast_cpu_dtype(state.cpu_dtype);
  at::autocast::set_enabled(state.cuda_enabled);
  at::autocast::set_autocast_gpu_dtype(state.cuda_dtype);
#endif
  at::autocast::set_autocast_cache_enabled(state.cache_enabled);
}

}  // namespace

bool AutocastState::enabled_for(c10::DeviceType device_type) const {
  if (device_type == c10::DeviceType::CPU) return cpu_enabled;
  if (device_type == c10::DeviceType::CUDA) return cuda_enabled;
  return false;
}

bool operator==(const AutocastState& a, const AutocastState& b) {
  return a.cpu_enabled == b.cpu_enabled && a.cpu_dtype == b.cpu_dtype && a.cuda_enabled == b.cuda_enabled &&
         a.cuda_dtype == b.cuda_dtype && a.cache_enabled == b.cache_enabled;
}

AutocastState current_autocast_state() {
  AutocastState state;
#if SELM_AUTOCAST_BY_DEVICE_TYPE
  state.cpu_enabled = at::autocast::is_autocast_enabled(c10::DeviceType::CPU);
  state.cpu_dtype = at::autocast::get_autocast_dtype(c10::DeviceType::CPU);
  state.cuda_enabled = at::autocast::is_autocast_enabled(c10::DeviceType::CUDA);
  state.cuda_dtype = at::autocast::get_autocast_dtype(c10::DeviceType::CUDA);
#else
  state.cpu_enabled = at::autocast::is_cpu_enabled();
  state.cpu_dtype = at::autocast::get_autocast_cpu_dtype();
  state.cuda_enabled = at::autocast::is_enabled();
  state.cuda_dtype = at::autocast::get_autocast_gpu_dtype();
#endif
  state.cache_enabled = at::autocast::is_autocast_cache_enabled();
  return state;
}

AutocastScope::AutocastScope(c10::DeviceType device_type, c10::ScalarType dtype, bool enabled)
    : previous_(current_autocast_state()) {
  AutocastState next = previous_;
  if (device_type == c10::DeviceType::CPU) {
    next.cpu_enabled = enabled;
    if (enabled) next.cpu_dtype = dtype;
  } else if (device_type == c10::DeviceType::CUDA) {
    next.cuda_enabled = enabled;
    if (enabled) next.cuda_dtype = dtype;
  } else {
    throw std::invalid_argument(std::string("AutocastScope: autocast on ") + c10::DeviceTypeName(device_type) +
                                " is not supported (cpu and cuda are)");
  }
  apply_state(next);
  at::autocast::increment_nesting();
}

AutocastScope::AutocastScope(const AutocastState& state) : previous_(current_autocast_state()) {
  apply_state(state);
  at::autocast::increment_nesting();
}

AutocastScope::~AutocastScope() {
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
  apply_state(previous_);
}

}  // namespace selm
