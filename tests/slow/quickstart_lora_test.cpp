// configs/quickstart-lora.yaml end to end: three online SELM rounds training LoRA adapters on
// the fortunes task improve on the SFT model: the final round's mean lexicon reward on the
// held-out prompts is above the SFT model's (the baseline's), with 95% intervals that do not
// overlap, and its responses win more often than they lose. Needs Debian's `fortunes` package;
// prepares the task once into the build tree (the SFT of the tiny model, about 3 minutes on 2
// cores), then runs the three rounds.
#include <gtest/gtest.h>

#include <filesystem>
#include <iostream>
#include <string>

#include <nlohmann/json.hpp>

#include "support/test_support.hpp"

namespace selm {
namespace SELM_UNITY_ID {

namespace fs = std::filesystem;

TEST(QuickstartLora, TheFinalRoundImprovesOnTheSftModel) {
  test::TempDir runs;
  // The task cache outlives the test, so that reruns skip the SFT of the tiny model.
  const fs::path cache = fs::current_path() / "quickstart-task-cache";
  const auto run = test::run_selm({"train", "-c", std::string(SELM_SOURCE_DIR) + "/configs/quickstart-lora.yaml",
                                   "run.output_dir=" + runs.path().string(), "task.cache_dir=" + cache.string()});
  ASSERT_EQ(run.exit_code, 0) << run.output;
  const fs::path dir = runs.path() / "quickstart-lora";
  for (const char* round : {"round-1", "round-2", "round-3"}) {
    EXPECT_TRUE(fs::exists(dir / round / "adapter" / "adapter_model.safetensors")) << round;
  }
  const nlohmann::json eval = nlohmann::json::parse(test::read_text(dir / "round-3" / "eval.json"));
  const auto& reward = eval.at("mean_score_ci");
  const auto& baseline_reward = eval.at("baseline_mean_score_ci");
  EXPECT_GT(reward.at(0).get<double>(), baseline_reward.at(1).get<double>())
      << "round 3 reward " << eval.at("mean_score") << " " << reward << " vs SFT " << eval.at("baseline_mean_score")
      << " " << baseline_reward;
  EXPECT_GT(eval.at("wins").get<int>(), eval.at("losses").get<int>()) << eval.dump();
  std::cout << "quickstart-lora round 3: reward " << eval.at("mean_score") << " " << reward << ", SFT "
            << eval.at("baseline_mean_score") << " " << baseline_reward << ", win rate " << eval.at("win_rate") << " "
            << eval.at("win_rate_ci") << ", KL " << eval.at("kl") << "\n";
}

}  // namespace
}  // namespace selm
