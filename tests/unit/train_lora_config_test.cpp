// The train.lora section: PEFT's defaults, the checks that name the key, and the adapters it
// asks the model for.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "selm/config/config.hpp"
#include "selm/train/training_runtime_options.hpp"
#include "selm/train/train_config.hpp"
#include "support/test_support.hpp"

namespace selm {
namespace SELM_UNITY_ID {

TEST(TrainLoraConfig, DefaultsArePeftsAndLoraIsOff) {
  const Config config = load_config({}, {});
  EXPECT_EQ(config.train.lora.rank, 0);
  EXPECT_EQ(config.train.lora.alpha, 8.0);
  EXPECT_EQ(config.train.lora.dropout, 0.0);
  EXPECT_EQ(config.train.lora.target_modules, (std::vector<std::string>{"q_proj", "v_proj"}));
  EXPECT_EQ(config.model.adapter_path, "");
  EXPECT_FALSE(training_runtime_options(config.train).lora.has_value());
}

TEST(TrainLoraConfig, TheSpecResolvesAllLinearAndTakesTheSeed) {
  const Config config =
      load_config({}, {"train.lora.rank=16", "train.lora.alpha=32", "train.lora.dropout=0.1",
                       "train.lora.target_modules=[all-linear]", "train.seed=5"});
  const auto options = training_runtime_options(config.train);
  ASSERT_TRUE(options.lora.has_value());
  EXPECT_EQ(options.lora->rank, 16);
  EXPECT_EQ(options.lora->scaling(), 2.0);
  EXPECT_EQ(options.lora->dropout, 0.1);
  EXPECT_EQ(options.lora->init_seed, 5);
  EXPECT_EQ(options.lora->target_modules,
            (std::vector<std::string>{"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"}));
}

TEST(TrainLoraConfig, ChecksNameTheKey) {
  const auto error_for = [](const std::string& override_text) {
    return test::input_error_of([&] { load_config({}, {override_text}); });
  };
  EXPECT_NE(error_for("train.lora.rank=-1").find("key 'train.lora.rank': must be >= 0 (0 = LoRA off)"),
            std::string::npos);
  EXPECT_NE(error_for("train.lora.alpha=0").find("key 'train.lora.alpha': must be positive"), std::string::npos);
  EXPECT_NE(error_for("train.lora.dropout=1").find("key 'train.lora.dropout': must be in [0, 1)"), std::string::npos);
  const std::string unknown = error_for("train.lora.target_modules=[q_proj, qkv_proj]");
  EXPECT_NE(unknown.find("key 'train.lora.target_modules': unknown module 'qkv_proj'"), std::string::npos) << unknown;
  EXPECT_NE(error_for("train.lora.target_modules=[all-linear, lm_head]")
                .find("key 'train.lora.target_modules': all-linear must be the only entry"),
            std::string::npos);
}

}  // namespace
}  // namespace selm
