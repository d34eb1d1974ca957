// selm compare: grouping by config apart from seeds, mean +- Student-t interval over seeds
// (computed by hand for 2 groups x 2 seeds), and the head-to-head of SELM against iterative DPO
// with the lexicon judge on hand-written responses.
#include <gtest/gtest.h>

#include "selm/eval/compare.hpp"
#include "selm/judge/judge_factory.hpp"
#include "selm/util/error.hpp"
#include "support/eval_run_fixture.hpp"

namespace selm {
namespace SELM_UNITY_ID {

using nlohmann::json;
using test::read_text;
using test::run_selm;
using test::write_json;
using test::write_jsonl;
using test::write_text;
namespace fs = std::filesystem;

const char* const kHappy = "What a wonderful and happy day, I love this great gift.";
const char* const kGloomy = "What a terrible and sad day, I hate this awful mess.";
const char* const kNeutral = "The table has four legs.";

struct RoundNumbers {
  double mean_score;
  int wins, ties, losses;
};

// A run with rounds 1 and 2 evaluated against an initial model whose mean reward is `baseline`.
fs::path make_run(const fs::path& root, const std::string& name, double alpha, int seed, double baseline,
                  const RoundNumbers& round1, const RoundNumbers& round2, const std::string& extra_train_yaml = "") {
  const fs::path dir = root / name;
  test::write_run_config(dir, name, "selm", alpha, seed, extra_train_yaml);
  int round_number = 1;
  for (const RoundNumbers& numbers : {round1, round2}) {
    write_json(dir / ("round-" + std::to_string(round_number)) / "eval.json",
               {{"round", round_number},
                {"prompts", numbers.wins + numbers.ties + numbers.losses},
                {"wins", numbers.wins},
                {"ties", numbers.ties},
                {"losses", numbers.losses},
                {"mean_score", numbers.mean_score},
                {"mean_score_ci", {numbers.mean_score - 0.1, numbers.mean_score + 0.1}},
                {"baseline_mean_score", baseline},
                {"baseline_mean_score_ci", {baseline - 0.1, baseline + 0.1}}});
    ++round_number;
  }
  return dir;
}

void write_eval_generations(const fs::path& run_dir, int round, const std::vector<std::string>& responses) {
  std::vector<json> records;
  for (std::size_t i = 0; i < responses.size(); ++i) {
    records.push_back({{"prompt_index", i},
                       {"sample_index", 0},
                       {"prompt", "Tell me about day " + std::to_string(i)},
                       {"response", responses[i]},
                       {"finish_reason", "eos"}});
  }
  write_jsonl(run_dir / ("round-" + std::to_string(round)) / "eval_generations.jsonl", records);
}

// Two groups (selm alpha = 0.001, iterative DPO) x seeds 1 and 2, with head-to-head responses
// in round 2: seed 1 SELM wins 2 and ties 1; seed 2 SELM wins 1, ties 1, loses 1.
class EvalCompare : public ::testing::Test {
 protected:
  void SetUp() override {
    selm1_ = make_run(dir_.path(), "selm-s1", 0.001, 1, 0.10, {0.30, 6, 0, 4}, {0.50, 7, 0, 3});
    selm2_ = make_run(dir_.path(), "selm-s2", 0.001, 2, 0.14, {0.50, 8, 0, 2}, {0.70, 9, 0, 1});
    dpo1_ = make_run(dir_.path(), "dpo-s1", 0.0, 1, 0.10, {0.20, 5, 0, 5}, {0.30, 6, 0, 4});
    dpo2_ = make_run(dir_.path(), "dpo-s2", 0.0, 2, 0.14, {0.24, 6, 0, 4}, {0.36, 5, 2, 3});
    write_eval_generations(selm1_, 2, {kHappy, kHappy, kNeutral});
    write_eval_generations(dpo1_, 2, {kGloomy, kGloomy, kNeutral});
    write_eval_generations(selm2_, 2, {kHappy, kGloomy, kNeutral});
    write_eval_generations(dpo2_, 2, {kGloomy, kHappy, kNeutral});
    write_eval_generations(selm1_, 1, {kGloomy, kGloomy, kGloomy});  // not the last common round
  }

  std::vector<RunSummary> load_all() const {
    return {load_run_summary(selm1_), load_run_summary(dpo1_), load_run_summary(selm2_), load_run_summary(dpo2_)};
  }

  test::TempDir dir_;
  fs::path selm1_, selm2_, dpo1_, dpo2_;
};

TEST_F(EvalCompare, GroupsBySeedlessConfigWithMeanAndIntervalOverSeeds) {
  const std::vector<RunSummary> runs = load_all();
  const std::vector<RunGroup> groups = group_runs(runs);
  ASSERT_EQ(groups.size(), 2u);
  EXPECT_EQ(groups[0].label, "selm alpha=0.001");
  EXPECT_EQ(groups[0].runs, (std::vector<std::size_t>{0, 2}));
  EXPECT_EQ(groups[0].seeds, (std::vector<std::int64_t>{1, 2}));
  EXPECT_EQ(groups[1].label, "selm alpha=0 (iterative DPO)");
  EXPECT_EQ(groups[1].runs, (std::vector<std::size_t>{1, 3}));

  // Two seeds a, b: mean (a + b) / 2, sd |a - b| / sqrt(2), half width
  // t(0.975, 1) * sd / sqrt(2) = 12.706 * |a - b| / 2.
  ASSERT_EQ(groups[0].rounds.size(), 2u);
  const GroupRound& selm_round1 = groups[0].rounds[0];
  EXPECT_EQ(selm_round1.round, 1);
  EXPECT_EQ(selm_round1.seeds, 2);
  EXPECT_NEAR(selm_round1.mean_score.mean, 0.4, 1e-12);
  EXPECT_NEAR(selm_round1.mean_score.interval.low, 0.4 - 1.2706, 1e-9);
  EXPECT_NEAR(selm_round1.mean_score.interval.high, 0.4 + 1.2706, 1e-9);
  EXPECT_NEAR(selm_round1.win_rate.mean, 0.7, 1e-12);
  // 0.7 -+ 1.2706 reaches past what a win rate can be: the interval is clipped to [0, 1].
  EXPECT_DOUBLE_EQ(selm_round1.win_rate.interval.low, 0.0);
  EXPECT_DOUBLE_EQ(selm_round1.win_rate.interval.high, 1.0);

  const GroupRound& dpo_round2 = groups[1].rounds[1];
  EXPECT_EQ(dpo_round2.round, 2);
  EXPECT_NEAR(dpo_round2.mean_score.mean, 0.33, 1e-12);
  EXPECT_NEAR(dpo_round2.mean_score.interval.low, 0.33 - 6.353 * 0.06, 1e-9);
  // Win rates 0.6 (6-0-4) and 0.6 (5 wins, 2 ties, 3 losses): no spread, a point interval.
  EXPECT_NEAR(dpo_round2.win_rate.mean, 0.6, 1e-12);
  EXPECT_NEAR(dpo_round2.win_rate.interval.low, 0.6, 1e-12);
  EXPECT_NEAR(dpo_round2.win_rate.interval.high, 0.6, 1e-12);

  ASSERT_TRUE(groups[1].initial_mean_score.has_value());
  EXPECT_NEAR(groups[1].initial_mean_score->value, 0.12, 1e-12);
  EXPECT_NEAR(groups[1].initial_mean_score->interval.high, 0.12 + 6.353 * 0.04, 1e-9);

  const std::string markdown = render_compare_markdown(runs, groups, {});
  EXPECT_NE(markdown.find("| selm alpha=0.001 | 1 | 2 | 0.400 [-0.871, 1.671] | 0.700 [0.000, 1.000] |"),
            std::string::npos)
      << markdown;
  EXPECT_NE(markdown.find("| selm alpha=0 (iterative DPO) | 2 | 2 | 0.330 [-0.051, 0.711] | 0.600 [0.600, 0.600] |"),
            std::string::npos)
      << markdown;
  EXPECT_NE(markdown.find("| selm alpha=0 (iterative DPO) | init | 2 | 0.120 [-0.134, 0.374] | - |"), std::string::npos)
      << markdown;
}

TEST_F(EvalCompare, OtherDifferencesSplitGroupsAndAreNamed) {
  std::vector<RunSummary> runs = load_all();
  runs.push_back(load_run_summary(
      make_run(dir_.path(), "selm-beta", 0.001, 3, 0.1, {0.3, 5, 0, 5}, {0.3, 5, 0, 5}, "  beta: 0.1\n")));
  const std::vector<RunGroup> groups = group_runs(runs);
  ASSERT_EQ(groups.size(), 3u);
  EXPECT_EQ(groups[0].label, "selm alpha=0.001 [train.beta=0.01]");
  EXPECT_EQ(groups[2].label, "selm alpha=0.001 [train.beta=0.1]");
  EXPECT_EQ(groups[2].runs, (std::vector<std::size_t>{4}));
  EXPECT_EQ(groups[1].label, "selm alpha=0 (iterative DPO)");

  EXPECT_TRUE(is_seed_or_naming_key("train.seed"));
  EXPECT_TRUE(is_seed_or_naming_key("run.name"));
  EXPECT_FALSE(is_seed_or_naming_key("train.alpha"));
  EXPECT_EQ(method_label(PreferenceLossType::dpo, 0.001), "dpo");
}

TEST_F(EvalCompare, HeadToHeadWithTheLexiconJudge) {
  const std::vector<RunSummary> runs = load_all();
  const std::vector<RunGroup> groups = group_runs(runs);
  const auto judge = make_judge(JudgeConfig{});  // lexicon, happier responses win
  const std::vector<HeadToHead> results = head_to_head(runs, groups, *judge, 2);
  ASSERT_EQ(results.size(), 1u);
  const HeadToHead& result = results[0];
  EXPECT_EQ(result.label, "selm alpha=0.001");
  ASSERT_EQ(result.seeds.size(), 2u);
  EXPECT_EQ(result.seeds[0].seed, 1);
  EXPECT_EQ(result.seeds[0].round, 2);
  EXPECT_EQ(result.seeds[0].dpo_run, dpo1_.string());
  EXPECT_EQ(result.seeds[0].selm_win_rate.wins, 2);
  EXPECT_EQ(result.seeds[0].selm_win_rate.ties, 1);
  EXPECT_EQ(result.seeds[0].selm_win_rate.losses, 0);
  EXPECT_EQ(result.seeds[1].selm_win_rate.wins, 1);
  EXPECT_EQ(result.seeds[1].selm_win_rate.ties, 1);
  EXPECT_EQ(result.seeds[1].selm_win_rate.losses, 1);
  // Pooled: 3 wins, 2 ties, 1 loss: p = 4 / 6, Wilson over n = 6: [0.29999, 0.90323].
  EXPECT_NEAR(result.pooled.rate, 4.0 / 6.0, 1e-12);
  EXPECT_NEAR(result.pooled.interval.low, 0.299993, 1e-5);
  EXPECT_NEAR(result.pooled.interval.high, 0.903229, 1e-5);
  EXPECT_EQ(result.abstained, 0);
  EXPECT_EQ(result.failed, 0);
}

TEST_F(EvalCompare, CommandWritesMarkdownAndHtml) {
  const fs::path out = dir_ / "cmp";
  auto result = run_selm({"compare", selm1_.string(), dpo1_.string(), selm2_.string(), dpo2_.string(), "--out",
                          out.string(), "--head-to-head"});
  ASSERT_EQ(result.exit_code, 0) << result.output;
  const std::string markdown = read_text(out / "compare.md");
  EXPECT_NE(result.output.find("| selm alpha=0.001 | pooled | final | 3 | 2 | 1 | 0 | 0 | 0.667 [0.300, 0.903] |"),
            std::string::npos)
      << result.output;
  EXPECT_NE(markdown.find("| selm alpha=0.001 | 1 | 2 | 2 | 1 | 0 | 0 | 0 | 0.833 [0.310, 0.982] |"), std::string::npos)
      << markdown;
  const std::string html = read_text(out / "compare.html");
  EXPECT_NE(html.find("<svg"), std::string::npos);
  EXPECT_NE(html.find("<title>Mean judge reward, mean over seeds</title>"), std::string::npos);
  EXPECT_EQ(html.find("http://"), std::string::npos);
  EXPECT_EQ(html.find("https://"), std::string::npos);

  // A judge of -c that prefers gloomy responses turns the verdicts around.
  write_text(dir_ / "judge.yaml", "judge:\n  type: lexicon\n  lexicon:\n    target: negative\n");
  result = run_selm({"compare", selm1_.string(), dpo1_.string(), selm2_.string(), dpo2_.string(), "--out",
                     out.string(), "--head-to-head", "-c", (dir_ / "judge.yaml").string()});
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_NE(result.output.find("| selm alpha=0.001 | pooled | final | 1 | 2 | 3 | 0 | 0 |"), std::string::npos)
      << result.output;
}

TEST_F(EvalCompare, BadInputsExitWithCode2NamingTheFile) {
  const fs::path out = dir_ / "cmp";
  // Missing eval generations of the DPO run.
  fs::remove(dpo2_ / "round-2" / "eval_generations.jsonl");
  auto result = run_selm({"compare", selm2_.string(), dpo2_.string(), "--out", out.string(), "--head-to-head"});
  EXPECT_EQ(result.exit_code, 2) << result.output;
  EXPECT_NE(result.output.find("eval_generations.jsonl"), std::string::npos) << result.output;

  // Different prompts under the same prompt_index.
  write_jsonl(dpo1_ / "round-2" / "eval_generations.jsonl",
              {{{"prompt_index", 0}, {"prompt", "another prompt"}, {"response", kGloomy}}});
  result = run_selm({"compare", selm1_.string(), dpo1_.string(), "--out", out.string(), "--head-to-head"});
  EXPECT_EQ(result.exit_code, 2) << result.output;
  EXPECT_NE(result.output.find((selm1_ / "round-2" / "eval_generations.jsonl").string()), std::string::npos)
      << result.output;

  // A malformed eval.json of one run.
  write_text(dpo1_ / "round-1" / "eval.json", "{\"round\": 1,\n\"wins\": }");
  result = run_selm({"compare", selm1_.string(), dpo1_.string(), "--out", out.string()});
  EXPECT_EQ(result.exit_code, 2) << result.output;
  EXPECT_NE(result.output.find((dpo1_ / "round-1" / "eval.json").string() + ":2:"), std::string::npos)
      << result.output;

  // A directory that is not a run.
  result = run_selm({"compare", (dir_ / "nothing").string(), "--out", out.string()});
  EXPECT_EQ(result.exit_code, 2) << result.output;
  EXPECT_NE(result.output.find((dir_ / "nothing").string()), std::string::npos) << result.output;
}

}  // namespace
}  // namespace selm
