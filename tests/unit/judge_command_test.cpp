// The command judge against scripts/judges/example_judge.py: normal replies, a judge that
// crashes mid-stream, one that never answers, error replies, stderr forwarded to the log.
#include <gtest/gtest.h>

#include <chrono>

#include "selm/judge/command_judge.hpp"
#include "selm/util/error.hpp"
#include "selm/util/log.hpp"
#include "support/test_support.hpp"

namespace selm {
namespace SELM_UNITY_ID {

using Order = std::vector<std::int64_t>;

CommandJudgeConfig example_judge(std::vector<std::string> flags = {}) {
  CommandJudgeConfig config;
  config.argv = {"python3", std::string(SELM_SOURCE_DIR) + "/scripts/judges/example_judge.py"};
  config.argv.insert(config.argv.end(), flags.begin(), flags.end());
  config.timeout_seconds = 10.0;  // python start-up on a loaded machine; hangs use less
  config.max_restarts = 3;
  return config;
}

// Request k has candidates with k, 0 and 1 occurrences of "good": the order is predictable.
std::vector<JudgeRequest> numbered_batch(int size) {
  std::vector<JudgeRequest> batch;
  for (int k = 0; k < size; ++k) {
    std::string many;
    for (int repeat = 0; repeat < k + 2; ++repeat) many += "good ";
    batch.push_back({"q" + std::to_string(k), "prompt " + std::to_string(k), {"meh", many, "good"}});
  }
  return batch;
}

TEST(JudgeCommand, ScoresAndRankingReplies) {
  CommandJudge judge(example_judge());
  EXPECT_EQ(judge.id(), "command:example_judge.py");
  const auto judgments = judge.rank({{"a", "p", {"good", "good good", "bad"}}, {"b", "p", {"x", "x"}}});
  EXPECT_EQ(judgments[0].status, JudgmentStatus::ok);
  EXPECT_EQ(judgments[0].order, (Order{1, 0, 2}));
  EXPECT_EQ(*judgments[0].scores, (std::vector<double>{1, 2, 0}));
  EXPECT_EQ(judgments[1].ranks, (Order{1, 1}));  // equal scores share a rank

  CommandJudge ranking_judge(example_judge({"--ranking"}));
  const auto ranked = ranking_judge.rank({{"a", "p", {"good", "good good", "bad"}}});
  EXPECT_EQ(ranked[0].order, (Order{1, 0, 2}));
  EXPECT_FALSE(ranked[0].scores.has_value());
}

TEST(JudgeCommand, CrashingJudgeIsRestartedAndTheBatchCompletes) {
  // Each process answers 2 requests and dies on the 3rd: 5 requests need 2 restarts.
  CommandJudge judge(example_judge({"--crash-after", "2"}));
  const auto batch = numbered_batch(5);
  const auto judgments = judge.rank(batch);
  ASSERT_EQ(judgments.size(), 5u);
  for (const Judgment& judgment : judgments) {
    EXPECT_EQ(judgment.status, JudgmentStatus::ok) << judgment.id << ": " << judgment.reason;
    EXPECT_EQ(judgment.order, (Order{1, 2, 0})) << judgment.id;
  }
  const JudgeStats stats = judge.stats();
  EXPECT_EQ(stats.restarts, 2);
  EXPECT_EQ(stats.requests, 7);  // 5 + the 2 interrupted ones sent again
  EXPECT_EQ(stats.retries, 2);
  EXPECT_EQ(stats.ok, 5);
}

TEST(JudgeCommand, RestartsAreBounded) {
  CommandJudgeConfig config = example_judge({"--crash-after", "0"});  // dies on every request
  config.max_restarts = 2;
  CommandJudge judge(config);
  const auto judgments = judge.rank(numbered_batch(3));
  // q0: crash, restart 1, crash again -> failed; q1: restart 2, crash, no budget -> failed; q2: gave up.
  for (const Judgment& judgment : judgments) EXPECT_EQ(judgment.status, JudgmentStatus::failed) << judgment.id;
  EXPECT_NE(judgments[0].reason.find("crashed twice"), std::string::npos) << judgments[0].reason;
  EXPECT_NE(judgments[2].reason.find("gave up"), std::string::npos) << judgments[2].reason;
  EXPECT_EQ(judge.stats().restarts, 2);
  EXPECT_EQ(judge.stats().failed, 3);
}

TEST(JudgeCommand, HangingJudgeTimesOutWithAClearError) {
  CommandJudgeConfig config = example_judge({"--hang"});
  config.timeout_seconds = 0.3;
  config.max_restarts = 1;
  CommandJudge judge(config);
  const auto start = std::chrono::steady_clock::now();
  const auto judgments = judge.rank(numbered_batch(3));
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(judgments[0].status, JudgmentStatus::failed);
  EXPECT_NE(judgments[0].reason.find("did not answer within 0.3"), std::string::npos) << judgments[0].reason;
  EXPECT_NE(judgments[0].reason.find("killed"), std::string::npos);
  EXPECT_EQ(judgments[1].status, JudgmentStatus::failed);  // the one restart, timed out again
  EXPECT_EQ(judgments[2].status, JudgmentStatus::failed);
  EXPECT_NE(judgments[2].reason.find("gave up"), std::string::npos) << judgments[2].reason;
  EXPECT_EQ(judge.stats().requests, 2);
  EXPECT_EQ(judge.stats().restarts, 1);
  EXPECT_GE(elapsed, 0.6);
  EXPECT_LT(elapsed, 10.0);  // nowhere near "forever"
}

TEST(JudgeCommand, ErrorRepliesFailOnlyThatJudgment) {
  CommandJudge judge(example_judge({"--error-on", "forbidden"}));
  const auto judgments = judge.rank({{"a", "a forbidden prompt", {"good", "bad"}}, {"b", "fine", {"bad", "good"}}});
  EXPECT_EQ(judgments[0].status, JudgmentStatus::failed);
  EXPECT_NE(judgments[0].reason.find("refusing"), std::string::npos) << judgments[0].reason;
  EXPECT_EQ(judgments[1].status, JudgmentStatus::ok);
  EXPECT_EQ(judgments[1].order, (Order{1, 0}));
  EXPECT_EQ(judge.stats().restarts, 0);
}

TEST(JudgeCommand, StderrGoesToTheLog) {
  test::TempDir dir;
  log::set_file(dir / "log.txt");
  {
    CommandJudge judge(example_judge({"--word", "fine"}));
    judge.rank({{"a", "p", {"fine", "x"}}});
  }  // the process exits and its stderr is drained before the judge is gone
  log::set_file("");
  const std::string log_text = test::read_text(dir / "log.txt");
  EXPECT_NE(log_text.find("example judge ready (word='fine')"), std::string::npos) << log_text;
  EXPECT_NE(log_text.find("command:example_judge.py"), std::string::npos) << log_text;
}

TEST(JudgeCommand, MissingProgramNamesTheKey) {
  CommandJudgeConfig config;
  config.argv = {"/nonexistent/selm-judge-program"};
  try {
    CommandJudge judge(config);
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("judge.command.argv"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("No such file"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace selm
