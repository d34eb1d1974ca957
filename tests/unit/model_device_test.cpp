// Device and dtype strings of the config.
#include <gtest/gtest.h>

#include <torch/torch.h>

#include "selm/model/device.hpp"
#include "selm/util/error.hpp"

namespace selm {
namespace SELM_UNITY_ID {

TEST(ModelDevice, ParsesDtypes) {
  EXPECT_EQ(parse_dtype("float32"), torch::kFloat);
  EXPECT_EQ(parse_dtype("bfloat16"), torch::kBFloat16);
  EXPECT_EQ(parse_dtype("float16"), torch::kHalf);
  EXPECT_THROW(parse_dtype("fp32"), InputError);
  for (const char* name : {"float32", "bfloat16", "float16"}) EXPECT_EQ(dtype_name(parse_dtype(name)), name);
}

TEST(ModelDevice, ParsesDevices) {
  EXPECT_TRUE(parse_device("cpu").is_cpu());
  try {
    parse_device("gpu", "model.device");
    ADD_FAILURE() << "gpu accepted";
  } catch (const InputError& error) {
    EXPECT_NE(std::string(error.what()).find("model.device"), std::string::npos);
  }
  EXPECT_THROW(parse_device("cuda:x"), InputError);
  EXPECT_THROW(parse_device("cuda:"), InputError);
  if (torch::cuda::is_available()) {
    EXPECT_TRUE(parse_device("cuda").is_cuda());
    EXPECT_EQ(parse_device("cuda:0").index(), 0);
    EXPECT_THROW(parse_device("cuda:999"), InputError);
  } else {
    EXPECT_THROW(parse_device("cuda"), InputError);
    EXPECT_THROW(parse_device("cuda:0"), InputError);
  }
}

TEST(ModelDevice, HalfTypesNeedAGpu) {
  const auto placement = parse_placement("cpu", "float32");
  EXPECT_TRUE(placement.device.is_cpu());
  EXPECT_EQ(placement.dtype, torch::kFloat);
  EXPECT_THROW(parse_placement("cpu", "bfloat16"), InputError);
  EXPECT_THROW(parse_placement("cpu", "float16"), InputError);
  EXPECT_THROW(parse_placement("cpu", "float64"), InputError);
}

}  // namespace
}  // namespace selm
