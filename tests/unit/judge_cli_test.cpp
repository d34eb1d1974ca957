// `selm judge` end to end through the built binary: outputs, cache, summary, exit codes for bad
// config, and that an API key never reaches logs or outputs.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <thread>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "selm/util/files.hpp"
#include "support/test_support.hpp"

namespace selm {
namespace SELM_UNITY_ID {

void write_candidates(const std::filesystem::path& path) {
  test::write_text(path,
                   "{\"id\": \"first\", \"prompt\": \"How was the film?\", \"candidates\": [\"It was bad.\", \"It was great!\", \"It was a film.\"]}\n"
                   "{\"prompt\": \"And the food?\", \"candidates\": [\"good\", \"good\"]}\n");
}

TEST(JudgeCli, LexiconJudgmentsAndCacheOnRerun) {
  test::TempDir dir;
  write_candidates(dir / "candidates.jsonl");
  test::write_text(dir / "judge.yaml", "judge:\n  type: lexicon\n  cache_dir: " + (dir / "cache").string() + "\n");
  const std::vector<std::string> args = {"judge", "-c", (dir / "judge.yaml").string(), "--in",
                                         (dir / "candidates.jsonl").string(), "--out", (dir / "out.jsonl").string()};
  const auto first = test::run_selm(args);
  ASSERT_EQ(first.exit_code, 0) << first.output;
  EXPECT_NE(first.output.find("ok 2, abstained 0, failed 0"), std::string::npos) << first.output;
  EXPECT_NE(first.output.find("requests 2, retries 0"), std::string::npos) << first.output;

  const auto records = read_jsonl(dir / "out.jsonl");
  ASSERT_EQ(records.size(), 2u);
  const nlohmann::json& film = records[0].second;
  EXPECT_EQ(film["id"], "first");
  EXPECT_EQ(film["judge"], "lexicon");
  EXPECT_EQ(film["status"], "ok");
  EXPECT_EQ(film["order"], nlohmann::json({1, 2, 0}));
  EXPECT_EQ(film["config_hash"].get<std::string>().size(), 16u);
  EXPECT_EQ(records[1].second["id"], "1");
  EXPECT_EQ(records[1].second["ranks"], nlohmann::json({1, 1}));

  const auto second = test::run_selm(args);
  ASSERT_EQ(second.exit_code, 0) << second.output;
  EXPECT_NE(second.output.find("from cache 2"), std::string::npos) << second.output;
  EXPECT_NE(second.output.find("requests 0"), std::string::npos) << second.output;
  EXPECT_EQ(test::read_text(dir / "out.jsonl"), [&] {
    std::string expected;
    for (const auto& [line, record] : records) expected += record.dump() + "\n";
    return expected;
  }());

  auto uncached_args = args;
  uncached_args.push_back("--no-cache");
  const auto third = test::run_selm(uncached_args);
  ASSERT_EQ(third.exit_code, 0) << third.output;
  EXPECT_NE(third.output.find("from cache 0"), std::string::npos) << third.output;
}

TEST(JudgeCli, BadConfigExitsWithTwoNamingTheKey) {
  test::TempDir dir;
  write_candidates(dir / "candidates.jsonl");
  const std::vector<std::string> io = {"--in", (dir / "candidates.jsonl").string(), "--out", (dir / "out.jsonl").string()};
  struct Case {
    std::vector<std::string> overrides;
    std::string key;
  };
  ::unsetenv("SELM_TEST_UNSET_KEY_VARIABLE");
  const Case cases[] = {
      {{"judge.type=oracle"}, "judge.type"},
      {{"judge.type=reward_model"}, "judge.reward_model.path"},
      {{"judge.type=reward_model", "judge.reward_model.path=/nonexistent/reward-model"}, "judge.reward_model.path"},
      {{"judge.type=http", "judge.http.model=m"}, "judge.http.base_url"},
      {{"judge.type=http", "judge.http.base_url=http://127.0.0.1:9/v1", "judge.http.model=m",
        "judge.http.api_key_env=SELM_TEST_UNSET_KEY_VARIABLE"},
       "judge.http.api_key_env"},
      {{"judge.type=command"}, "judge.command.argv"},
  };
  for (const Case& c : cases) {
    std::vector<std::string> args = {"judge"};
    args.insert(args.end(), io.begin(), io.end());
    args.insert(args.end(), c.overrides.begin(), c.overrides.end());
    const auto result = test::run_selm(args);
    EXPECT_EQ(result.exit_code, 2) << c.key << ": " << result.output;
    EXPECT_NE(result.output.find(c.key), std::string::npos) << result.output;
    EXPECT_FALSE(std::filesystem::exists(dir / "out.jsonl"));
  }
  // From a file: the message points at its line.
  test::write_text(dir / "judge.yaml", "judge:\n  type: oracle\n");
  const auto from_file = test::run_selm({"judge", "-c", (dir / "judge.yaml").string(), "--in",
                                         (dir / "candidates.jsonl").string(), "--out", (dir / "out.jsonl").string()});
  EXPECT_EQ(from_file.exit_code, 2);
  EXPECT_NE(from_file.output.find("judge.yaml:2"), std::string::npos) << from_file.output;
}

TEST(JudgeCli, BadCandidatesLineExitsWithTwoNamingFileLineAndKey) {
  test::TempDir dir;
  test::write_text(dir / "candidates.jsonl", "{\"prompt\": \"p\", \"candidates\": [\"a\"]}\n{\"prompt\": 3, \"candidates\": [\"a\"]}\n");
  const auto result = test::run_selm({"judge", "--in", (dir / "candidates.jsonl").string(), "--out",
                                      (dir / "out.jsonl").string()});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.output.find("candidates.jsonl:2: key 'prompt'"), std::string::npos) << result.output;
}

TEST(JudgeCli, ApiKeyAppearsInNoLogOrOutput) {
  const std::string key = "sk-selm-secret-93be1d05aa";
  // A server that checks the key and quotes the Authorization header back in garbage replies,
  // fails the first request of every pair with a 500 quoting it too, then answers "A".
  httplib::Server server;
  std::atomic<int> requests{0};
  std::atomic<int> key_seen{0};
  server.Post("/v1/chat/completions", [&](const httplib::Request& request, httplib::Response& response) {
    const int number = requests++;
    const std::string authorization = request.get_header_value("Authorization");
    if (authorization == "Bearer " + key) ++key_seen;
    if (number % 3 == 0) {
      response.status = 500;
      response.set_content("upstream rejected " + authorization, "text/plain");
      return;
    }
    const std::string content = number % 3 == 1 ? "A" : "not sure, you sent " + authorization;
    response.set_content(nlohmann::json({{"choices", {{{"message", {{"role", "assistant"}, {"content", content}}}}}}}).dump(),
                         "application/json");
  });
  const int port = server.bind_to_any_port("127.0.0.1");
  std::thread server_thread([&] { server.listen_after_bind(); });

  test::TempDir dir;
  write_candidates(dir / "candidates.jsonl");
  test::write_text(dir / "judge.yaml", "run:\n  log_level: debug\njudge:\n  type: http\n  cache_dir: " +
                                           (dir / "cache").string() + "\n  http:\n    base_url: http://127.0.0.1:" +
                                           std::to_string(port) + "/v1\n    model: m\n    api_key_env: SELM_TEST_SECRET_KEY\n"
                                           "    max_concurrent: 2\n    backoff_initial_seconds: 0.001\n"
                                           "    backoff_max_seconds: 0.002\n    timeout_seconds: 2\n");
  ::setenv("SELM_TEST_SECRET_KEY", key.c_str(), 1);
  const auto result = test::run_selm({"judge", "-c", (dir / "judge.yaml").string(), "--in",
                                      (dir / "candidates.jsonl").string(), "--out", (dir / "out.jsonl").string()});
  const auto dumped = test::run_selm({"config", "-c", (dir / "judge.yaml").string()});
  ::unsetenv("SELM_TEST_SECRET_KEY");
  server.stop();
  server_thread.join();

  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_GT(key_seen.load(), 0);  // the key was really used
  EXPECT_NE(result.output.find("[redacted]"), std::string::npos) << result.output;  // quoted replies were seen
  EXPECT_EQ(result.output.find(key), std::string::npos) << result.output;
  EXPECT_EQ(dumped.output.find(key), std::string::npos);
  std::vector<std::filesystem::path> files = {dir / "out.jsonl", dir / "judge.yaml"};
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir / "cache")) files.push_back(entry.path());
  ASSERT_GE(files.size(), 3u);
  for (const auto& file : files) {
    EXPECT_EQ(test::read_text(file).find(key), std::string::npos) << file;
  }
  EXPECT_NE(test::read_text(dir / "out.jsonl").find("[redacted]"), std::string::npos);
}

TEST(JudgeCli, BenchJudgeReportsThroughputOfTheConfiguredJudge) {
  const auto result = test::run_selm({"bench", "judge", "--requests", "40", "--candidates", "3", "judge.batch_size=8"});
  ASSERT_EQ(result.exit_code, 0) << result.output;
  const nlohmann::json report = nlohmann::json::parse(result.output.substr(result.output.find('{')));
  EXPECT_EQ(report["benchmark"], "judge");
  EXPECT_EQ(report["judge"], "lexicon");
  EXPECT_EQ(report["requests"], 40);
  EXPECT_EQ(report["ok"], 40);
  EXPECT_EQ(report["backend_requests"], 40);  // the lexicon judge counts one per prompt
  EXPECT_GT(report["judgments_per_second"].get<double>(), 0.0);
  EXPECT_NEAR(report["responses_per_second"].get<double>(), 3.0 * report["judgments_per_second"].get<double>(), 1e-6);

  const auto bad = test::run_selm({"bench", "judge", "--requests", "0"});
  EXPECT_EQ(bad.exit_code, 2) << bad.output;
}

}  // namespace
}  // namespace selm
