// A tiny sweep through the real binary: two configs (alpha 0 and 0.01), one round each, run with
// `selm sweep --local`, then `selm compare --head-to-head` over the two run directories; the
// table's numbers are checked against the runs' own eval.json files.
#include <gtest/gtest.h>

#include <cstdio>
#include <regex>

#include <nlohmann/json.hpp>

#include "support/online_run_fixture.hpp"
#include "support/test_support.hpp"

namespace selm {
namespace SELM_UNITY_ID {

using test::read_text;
using test::run_selm;
namespace fs = std::filesystem;

class OnlineSweepCompare : public test::OnlineRunFixture {};

std::string three_decimals(double value) {
  char text[32];
  std::snprintf(text, sizeof(text), "%.3f", value);
  return text;
}

TEST_F(OnlineSweepCompare, TinySweepRunsLocallyAndCompareTabulatesIt) {
  const std::vector<std::string> args = train_args("sweep_base");
  const std::string base_config = args[2];
  const fs::path sweeps = fs::path(path("sweeps"));
  test::write_text(path("tiny_sweep.yaml"), "name: tiny\nbase: [" + base_config +
                                                "]\noverrides: [\"online.rounds=1\"]\ngrid:\n  train.alpha: [0, 0.01]\n"
                                                "output_dir: " + sweeps.string() + "\n");
  const auto sweep = run_selm({"sweep", "-c", path("tiny_sweep.yaml"), "--local"});
  ASSERT_EQ(sweep.exit_code, 0) << sweep.output;
  const fs::path dpo_run = sweeps / "tiny" / "tiny-alpha=0";
  const fs::path selm_run = sweeps / "tiny" / "tiny-alpha=0.01";
  for (const fs::path& run : {dpo_run, selm_run}) {
    ASSERT_TRUE(fs::exists(run / "round-1" / "eval.json")) << run;
    EXPECT_TRUE(fs::exists(run / "report.html")) << run;
    EXPECT_FALSE(fs::exists(run / "round-2")) << run;
  }

  const auto compare =
      run_selm({"compare", dpo_run.string(), selm_run.string(), "--head-to-head", "--out", path("compare")});
  ASSERT_EQ(compare.exit_code, 0) << compare.output;
  const std::string table = read_text(fs::path(path("compare")) / "compare.md");
  EXPECT_EQ(table, compare.output.substr(compare.output.find(table.substr(0, 20))).substr(0, table.size()));
  // One seed per group: each mean is the run's own figure, its interval a single point.
  for (const auto& [run, label] : {std::pair{dpo_run, std::string("selm alpha=0 (iterative DPO)")},
                                   std::pair{selm_run, std::string("selm alpha=0.01")}}) {
    const nlohmann::json eval = nlohmann::json::parse(read_text(run / "round-1" / "eval.json"));
    const std::string reward = three_decimals(eval.at("mean_score").get<double>());
    const std::string win = three_decimals(eval.at("win_rate").get<double>());
    const std::string row = "| " + label + " | 1 | 1 | " + reward + " [" + reward + ", " + reward + "] | " + win + " [" +
                            win + ", " + win + "] |";
    EXPECT_NE(table.find(row), std::string::npos) << row << "\n" << table;
  }
  // Head to head on the 4 eval prompts: wins + ties + losses + abstentions + failures = 4.
  const std::regex pooled(R"(\| selm alpha=0\.01 \| pooled \| final \| (\d+) \| (\d+) \| (\d+) \| (\d+) \| (\d+) \|)");
  std::smatch match;
  ASSERT_TRUE(std::regex_search(table, match, pooled)) << table;
  int total = 0;
  for (int group = 1; group <= 5; ++group) total += std::stoi(match[group].str());
  EXPECT_EQ(total, 4) << table;
  EXPECT_TRUE(fs::exists(fs::path(path("compare")) / "compare.html"));
}

}  // namespace
}  // namespace selm
