#include <gtest/gtest.h>

#include <torch/torch.h>

#include "selm/model/autocast.hpp"

namespace selm {
namespace SELM_UNITY_ID {

// The dtype a linear layer's output takes: bfloat16 exactly when CPU autocast is on.
c10::ScalarType linear_output_dtype() {
  const auto x = torch::randn({2, 3});
  const auto weight = torch::randn({4, 3});
  return torch::nn::functional::linear(x, weight).scalar_type();
}

TEST(ModelAutocast, ScopeTurnsCpuAutocastOnAndRestoresOnExit) {
  const AutocastState before = current_autocast_state();
  ASSERT_FALSE(before.cpu_enabled);
  EXPECT_EQ(linear_output_dtype(), torch::kFloat32);
  {
    const AutocastScope scope(c10::DeviceType::CPU, torch::kBFloat16, /*enabled=*/true);
    EXPECT_TRUE(current_autocast_state().cpu_enabled);
    EXPECT_EQ(current_autocast_state().cpu_dtype, torch::kBFloat16);
    EXPECT_EQ(linear_output_dtype(), torch::kBFloat16);
  }
  EXPECT_TRUE(current_autocast_state() == before);
  EXPECT_EQ(linear_output_dtype(), torch::kFloat32);
}

TEST(ModelAutocast, NestedScopesRestoreTheEnclosingState) {
  const AutocastState before = current_autocast_state();
  const AutocastScope outer(c10::DeviceType::CPU, torch::kBFloat16, /*enabled=*/true);
  const AutocastState in_outer = current_autocast_state();
  {
    // A disabled scope turns the enclosing one off, as torch.autocast(enabled=False) does.
    const AutocastScope off(c10::DeviceType::CPU, torch::kBFloat16, /*enabled=*/false);
    EXPECT_FALSE(current_autocast_state().cpu_enabled);
    EXPECT_EQ(linear_output_dtype(), torch::kFloat32);
    {
      // Another device type leaves the CPU's setting alone.
      const AutocastScope cuda(c10::DeviceType::CUDA, torch::kBFloat16, /*enabled=*/true);
      EXPECT_TRUE(current_autocast_state().cuda_enabled);
      EXPECT_EQ(current_autocast_state().cuda_dtype, torch::kBFloat16);
      EXPECT_FALSE(current_autocast_state().cpu_enabled);
    }
    EXPECT_FALSE(current_autocast_state().cuda_enabled);
    EXPECT_EQ(current_autocast_state().cuda_dtype, before.cuda_dtype);
  }
  EXPECT_TRUE(current_autocast_state() == in_outer);
  EXPECT_EQ(linear_output_dtype(), torch::kBFloat16);
}

TEST(ModelAutocast, ReplayScopeSetsExactlyTheCapturedState) {
  const AutocastState before = current_autocast_state();
  AutocastState captured;
  {
    const AutocastScope scope(c10::DeviceType::CPU, torch::kBFloat16, /*enabled=*/true);
    captured = current_autocast_state();
  }
  captured.cache_enabled = false;
  {
    const AutocastScope replay(captured);
    EXPECT_TRUE(current_autocast_state() == captured);
    EXPECT_EQ(linear_output_dtype(), torch::kBFloat16);
  }
  EXPECT_TRUE(current_autocast_state() == before);
}

TEST(ModelAutocast, OtherDeviceTypesAreRefused) {
  EXPECT_THROW(AutocastScope(c10::DeviceType::Meta, torch::kBFloat16, true), std::invalid_argument);
  EXPECT_FALSE(current_autocast_state().cpu_enabled);
}

}  // namespace
}  // namespace selm
