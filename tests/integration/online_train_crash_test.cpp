// `selm train` killed with SIGKILL at several points (during generation, judging, training and
// evaluation, and between stages) and resumed: every resumed run ends with the same preference
// data, judgments and bit-identical model weights as an uninterrupted run with the same seed.
// The killed runs use selm_fault_injection (`selm` with the SELM_KILL_AFTER_WRITE hook), the
// others the `selm` users run.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <sstream>

#include <nlohmann/json.hpp>

#include "support/online_run_fixture.hpp"
#include "support/test_support.hpp"

namespace selm {
namespace SELM_UNITY_ID {

using test::read_text;
using test::eval_without_paths;
using test::run_selm;
using test::sorted_lines;
namespace fs = std::filesystem;

class OnlineTrainCrash : public test::OnlineRunFixture {};



TEST_F(OnlineTrainCrash, ResumedRunsEqualAnUninterruptedRun) {
  const auto straight = run_selm(train_args("straight"));
  ASSERT_EQ(straight.exit_code, 0) << straight.output;

  // NAME:N = killed right after the N-th write of a file named NAME in that process.
  const std::vector<std::pair<std::string, std::string>> kill_points = {
      {"during_generation", "generations.jsonl:3"},
      {"during_round2_generation", "generations.jsonl:9"},
      {"during_judging", "judgments.jsonl:3"},
      {"during_training", "train_metrics.jsonl:2"},
      {"between_stages", "state.json:6"},
      {"during_eval", "eval_judgments.jsonl:2"},
  };
  for (const auto& [name, point] : kill_points) {
    SCOPED_TRACE(name);
    ::setenv("SELM_KILL_AFTER_WRITE", point.c_str(), 1);
    const auto killed = test::run_program(SELM_FAULT_BINARY, train_args(name));
    ::unsetenv("SELM_KILL_AFTER_WRITE");
    ASSERT_EQ(killed.exit_code, 128 + 9) << killed.output;  // SIGKILL
    const nlohmann::json state = nlohmann::json::parse(read_text(run_dir(name) / "state.json"));
    EXPECT_FALSE(state.at("finished").get<bool>());
    const auto resumed = run_selm(train_args(name));
    ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
    EXPECT_NE(resumed.output.find("resuming"), std::string::npos) << resumed.output;

    for (const char* round : {"round-1", "round-2"}) {
      for (const char* file : {"prompts.jsonl", "generations.jsonl", "judgments.jsonl", "preferences.jsonl",
                               "preferences_with_reference.jsonl", "pairing.json", "eval_generations.jsonl"}) {
        EXPECT_EQ(sorted_lines(run_dir(name) / round / file), sorted_lines(run_dir("straight") / round / file))
            << round << "/" << file;
      }
      EXPECT_EQ(eval_without_paths(run_dir(name) / round / "eval.json"),
                eval_without_paths(run_dir("straight") / round / "eval.json"))
          << round;
      // The trainer resumes bit-exactly (fp32, CPU, same thread count): the weights are equal.
      EXPECT_EQ(read_text(run_dir(name) / round / "model" / "model.safetensors"),
                read_text(run_dir("straight") / round / "model" / "model.safetensors"))
          << round;
    }
  }
}

}  // namespace
}  // namespace selm
