// `selm eval` standalone: a model against itself ties on every prompt (win rate exactly 0.5),
// and against a baseline file of clearly positive answers it loses under the positive lexicon
// judge; a baseline file that misses a prompt is bad input (exit 2).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "support/online_run_fixture.hpp"
#include "support/test_support.hpp"

namespace selm {
namespace SELM_UNITY_ID {

using test::read_text;
using test::run_selm;
namespace fs = std::filesystem;

class EvalCli : public test::OnlineRunFixture {};

TEST_F(EvalCli, SelfTiesAndPositiveBaselineWins) {
  test::write_text(path("judge.yaml"), "judge:\n  type: lexicon\ngenerate:\n  max_new_tokens: 8\n");
  const auto self = run_selm({"eval", "--model", path("model"), "--baseline", path("model"), "--prompts",
                              path("eval_prompts.jsonl"), "-c", path("judge.yaml"), "--out", path("eval_self")});
  ASSERT_EQ(self.exit_code, 0) << self.output;
  const nlohmann::json tie = nlohmann::json::parse(read_text(fs::path(path("eval_self")) / "eval.json"));
  EXPECT_EQ(tie.at("ties").get<int>(), 4);
  EXPECT_EQ(tie.at("wins").get<int>() + tie.at("losses").get<int>(), 0);
  EXPECT_DOUBLE_EQ(tie.at("win_rate").get<double>(), 0.5);
  EXPECT_TRUE(tie.at("kl").is_null());

  std::string happy;
  for (int i = 0; i < 4; ++i) happy += "{\"response\": \"What a wonderful, happy and lovely day!\"}\n";
  test::write_text(path("happy.jsonl"), happy);
  const auto against = run_selm({"eval", "--model", path("model"), "--baseline", path("happy.jsonl"), "--prompts",
                                 path("eval_prompts.jsonl"), "-c", path("judge.yaml"), "--out", path("eval_happy"),
                                 "--reference", path("model")});
  ASSERT_EQ(against.exit_code, 0) << against.output;
  const nlohmann::json lost = nlohmann::json::parse(read_text(fs::path(path("eval_happy")) / "eval.json"));
  // The random tiny model's 8 tokens carry (almost surely) no sentiment: every comparison is lost.
  EXPECT_EQ(lost.at("losses").get<int>(), 4) << lost.dump();
  EXPECT_DOUBLE_EQ(lost.at("win_rate").get<double>(), 0.0);
  EXPECT_GT(lost.at("baseline_mean_score").get<double>(), 0.5);
  // The model is its own reference here: its KL estimate is 0 up to the rounding between the
  // cached generation log-probs and a full forward.
  EXPECT_NEAR(lost.at("kl").get<double>(), 0.0, 1e-3);

  test::write_text(path("short.jsonl"), "{\"response\": \"fine\"}\n");
  const auto missing = run_selm({"eval", "--model", path("model"), "--baseline", path("short.jsonl"), "--prompts",
                                 path("eval_prompts.jsonl"), "-c", path("judge.yaml"), "--out", path("eval_short")});
  EXPECT_EQ(missing.exit_code, 2) << missing.output;
  EXPECT_NE(missing.output.find("short.jsonl: no response for prompt 1"), std::string::npos) << missing.output;
}

}  // namespace
}  // namespace selm
