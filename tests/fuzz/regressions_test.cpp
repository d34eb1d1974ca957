// Inputs the fuzz harnesses found, each once a crash or a non-InputError exception, kept as
// fixed cases.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "selm/config/config.hpp"
#include "selm/judge/command_judge.hpp"
#include "selm/judge/http_judge.hpp"
#include "selm/judge/judge_file.hpp"
#include "selm/judge/judgment.hpp"
#include "selm/online/train_prompts.hpp"
#include "selm/sweep/sweep_spec.hpp"
#include "selm/util/error.hpp"
#include "support/test_support.hpp"

namespace selm {
namespace SELM_UNITY_ID {

// A reason quoting bytes that are not UTF-8 (or cut mid-character) made the judgments file's
// writer throw json type_error 316, ending the run with exit 1.
TEST(FuzzRegressions, JudgmentReasonsQuotingInvalidUtf8AreWritable) {
  const std::string body = "{\"choices\": [\xff\xc3]}";
  const std::string message = test::input_error_of([&] { chat_completion_content(body); });
  EXPECT_NO_THROW((void)judgment_to_json(failed_judgment(message)).dump());
  const std::string cut = std::string(199, 'x') + "\xc3\xa9 is not json";  // 200 bytes end mid-character
  const CommandJudgeReply reply = judgment_from_reply_line(cut, {"q", "p", {"a", "b"}});
  EXPECT_EQ(reply.judgment.status, JudgmentStatus::failed);
  EXPECT_NO_THROW((void)judgment_to_json(reply.judgment).dump());
  EXPECT_NO_THROW((void)judgment_to_json(abstained_judgment("verdict '\xed\xa0\x80'")).dump());
}

// "judge", "config_hash" or "reason" of another type threw json type_error 302 (exit 1).
TEST(FuzzRegressions, JudgmentFieldsOfTheWrongTypeAreInputErrors) {
  const auto record = nlohmann::json::parse(R"({"id": "0", "status": "failed", "judge": 5})");
  EXPECT_NE(test::input_error_of([&] { judgment_from_json(record); }).find("key 'judge'"), std::string::npos);
}

// An ok judgment whose order or ranks did not fit its request was accepted, and pairing then
// indexed past the request's candidates.
TEST(FuzzRegressions, JudgmentsMustFitTheirRequests) {
  test::TempDir dir;
  const std::vector<JudgeRequest> requests = {{"0", "p", {"a", "b"}}};
  test::write_text(dir / "j.jsonl", R"({"id": "0", "status": "ok", "order": [0, 1, 2], "ranks": [1, 2, 3]})" "\n");
  EXPECT_NE(test::input_error_of([&] { read_judgment_file(dir / "j.jsonl", requests); }).find("request 0"),
            std::string::npos);
  test::write_text(dir / "j.jsonl", R"({"id": "0", "status": "ok", "order": [0, 7], "ranks": [1, 9]})" "\n");
  EXPECT_NE(test::input_error_of([&] { read_judgment_file(dir / "j.jsonl", requests); }).find("permutation"),
            std::string::npos);
  test::write_text(dir / "j.jsonl", R"({"id": "0", "status": "ok", "order": [1, 0], "ranks": [2, 1]})" "\n");
  EXPECT_EQ(read_judgment_file(dir / "j.jsonl", requests)[0].ranks, (std::vector<std::int64_t>{2, 1}));
}

// A prompts.jsonl record without an integer dataset_index threw json out_of_range (exit 1).
TEST(FuzzRegressions, RoundPromptsWithoutDatasetIndexAreInputErrors) {
  test::TempDir dir;
  test::write_text(dir / "train.jsonl", "{\"prompt\": \"a\"}\n");
  const auto dataset = read_train_prompts((dir / "train.jsonl").string(), false);
  for (const char* line : {"{\"line\": 1}\n", "{\"dataset_index\": \"0\"}\n", "[0]\n"}) {
    test::write_text(dir / "prompts.jsonl", line);
    EXPECT_NE(test::input_error_of([&] { read_round_prompts(dir / "prompts.jsonl", dataset, "train.jsonl"); })
                  .find("prompts.jsonl:1: key 'dataset_index'"),
              std::string::npos)
        << line;
  }
}

// A base file name longer than the system allows threw filesystem_error (exit 1).
TEST(FuzzRegressions, SweepBaseNamesTooLongAreNotFound) {
  test::TempDir dir;
  test::write_text(dir / "sweep.yaml", "base: [" + std::string(5000, 'b') + ".yaml]\ngrid:\n  run.seed: [1]\n");
  EXPECT_NE(test::input_error_of([&] { load_sweep_spec(dir / "sweep.yaml"); }).find("sweep.yaml:1: key 'base'"),
            std::string::npos);
}

// A round override key of over 1024 characters loaded, but the dump then wrote it as a YAML
// key that yaml-cpp cannot read back.
TEST(FuzzRegressions, RoundOverrideKeysMustBeKeyPaths) {
  const std::string long_key(2000, '0');
  // (A mapping key that long is already refused by the YAML parser.)
  const std::vector<std::string> bad_rounds = {"[\"" + long_key + "=1\"]", "[{\"train beta\": 1}]", "[\"tr{ain=1\"]"};
  for (const std::string& rounds : bad_rounds) {
    EXPECT_NE(test::input_error_of([&] { load_config({}, {"online.round_overrides=" + rounds}); })
                  .find("is not a key path"),
              std::string::npos)
        << rounds;
  }
  // Unknown but well-formed keys still load: the round that applies them reports them.
  EXPECT_NO_THROW(load_config({}, {"online.round_overrides=[{train.bta: 0.1}]"}));
}

}  // namespace SELM_UNITY_ID
}  // namespace selm
