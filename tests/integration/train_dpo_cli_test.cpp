// End-to-end preference training through the `selm` binary: overfitting a handful of pairs with
// the dpo and selm losses, `selm score` of a model against itself, bad preference files (exit 2,
// no output), a SIGKILLed run resumed to bit-identical weights, and the resident memory with
// precomputed reference log-probs versus a reference model kept in memory.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <iostream>
#include <regex>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "selm/train/checkpoint.hpp"
#include "support/test_support.hpp"

namespace selm {
namespace SELM_UNITY_ID {

using test::read_text;
using test::run_selm;
using test::write_text;
namespace fs = std::filesystem;

std::vector<nlohmann::json> read_json_lines(const std::string& text) {
  std::vector<nlohmann::json> records;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    if (!line.empty() && line[0] == '{') records.push_back(nlohmann::json::parse(line));
  }
  return records;
}

// Six short pairs; every record has a y_ref for the selm loss.
std::string preference_lines() {
  const char* rows[][4] = {
      {"Tell me about the sea.", "The sea was calm and bright.", "A dog ran far away.", "The sea is wide."},
      {"Describe the old house.", "The old house stood on the hill.", "Rain fell on the road.", "It was old."},
      {"What did the child find?", "The child found a small stone.", "The captain spoke loudly.", "A stone."},
      {"Where is the ship?", "The ship sailed into the harbour.", "A quiet garden grew there.", "At sea."},
      {"Who was the captain?", "The captain was a brave sailor.", "The bread was warm.", "A sailor."},
      {"What happened at night?", "The stars shone over the village.", "The road was long.", "It was dark."},
  };
  std::string text;
  for (const auto& row : rows) {
    text += nlohmann::json({{"prompt", row[0]}, {"chosen", row[1]}, {"rejected", row[2]}, {"reference_response", row[3]}})
                .dump() +
            "\n";
  }
  return text;
}

class TrainDpoCli : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new test::TempDir();
    ASSERT_EQ(test::make_tiny_model(dir_->path(), 17, 3, 0.05), "");
    write_text(path("prefs.jsonl"), preference_lines());
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }
  static std::string path(const std::string& name) { return (dir_->path() / name).string(); }

  // A training config: a large learning rate so that a few dozen steps overfit six pairs.
  static std::string write_config(const std::string& name, const std::string& loss, std::int64_t epochs,
                                  std::int64_t batch_size, std::int64_t save_every) {
    const std::string file = path(name + ".yaml");
    write_text(file, "run:\n  threads: 1\nmodel:\n  path: " + path("model") + "\ndata:\n  train_file: " +
                         path("prefs.jsonl") + "\ntrain:\n  loss: " + loss +
                         "\n  beta: 0.1\n  alpha: 0.01\n  learning_rate: 0.001\n  lr_schedule: constant\n"
                         "  warmup_ratio: 0\n  epochs: " + std::to_string(epochs) +
                         "\n  batch_size: " + std::to_string(batch_size) +
                         "\n  max_length: 64\n  max_prompt_length: 32\n  log_every: 1\n  save_every: " +
                         std::to_string(save_every) + "\n");
    return file;
  }

  static test::TempDir* dir_;
};

test::TempDir* TrainDpoCli::dir_ = nullptr;

void expect_overfits(const std::string& loss, const std::string& config, const std::string& out) {
  auto run = run_selm({"dpo", "-c", config, "--out", out});
  ASSERT_EQ(run.exit_code, 0) << run.output;
  const auto records = read_json_lines(read_text(fs::path(out) / "train_metrics.jsonl"));
  ASSERT_EQ(records.size(), 40u);
  const auto& first = records.front();
  const auto& last = records.back();
  std::cout << loss << ": accuracy " << first.at("rewards/accuracies") << " -> " << last.at("rewards/accuracies")
            << ", margin " << first.at("rewards/margins") << " -> " << last.at("rewards/margins") << ", loss "
            << first.at("loss") << " -> " << last.at("loss") << "\n";
  // At step 1 the policy is the reference: zero rewards and loss log 2 (plus the optimism term).
  EXPECT_NEAR(first.at("rewards/margins").get<double>(), 0.0, 1e-6);
  EXPECT_EQ(last.at("rewards/accuracies").get<double>(), 1.0);
  EXPECT_GT(last.at("rewards/margins").get<double>(), 1.0);
  EXPECT_LT(last.at("loss").get<double>(), 0.5 * std::log(2.0));
  EXPECT_TRUE(fs::exists(fs::path(out) / "model" / "model.safetensors"));
  EXPECT_TRUE(fs::exists(fs::path(out) / "model" / "tokenizer.model"));
  EXPECT_TRUE(fs::exists(fs::path(out) / "preferences_with_reference.jsonl"));
  if (loss == "selm") {
    EXPECT_TRUE(last.contains("logps/pi_response"));
    EXPECT_TRUE(last.contains("logps/ref_response"));
  }
}

TEST_F(TrainDpoCli, DpoAndSelmOverfitAHandfulOfPairs) {
  expect_overfits("dpo", write_config("overfit_dpo", "dpo", 40, 6, 0), path("overfit_dpo"));
  expect_overfits("selm", write_config("overfit_selm", "selm", 40, 6, 0), path("overfit_selm"));
}

// The fp32 run's thresholds above, reached with bfloat16 compute on float32 master weights, with
// and without recomputing the layers in backward.
TEST_F(TrainDpoCli, Bf16MixedPrecisionOverfitsAsFp32Does) {
  for (const bool checkpointing : {false, true}) {
    const std::string name = checkpointing ? "overfit_bf16_mixed_checkpointed" : "overfit_bf16_mixed";
    const std::string config = write_config(name, "dpo", 40, 6, 0);
    write_text(config, read_text(config) + "  precision: bf16_mixed\n  gradient_checkpointing: " +
                           (checkpointing ? "true" : "false") + "\n");
    expect_overfits("dpo bf16_mixed", config, path(name));
  }
}

TEST_F(TrainDpoCli, ScoreOfAModelAgainstItselfGivesZeroRewardsAndLossLogTwo) {
  for (const std::string loss : {"dpo", "selm"}) {
    auto run = run_selm({"score", "--policy", path("model"), "--reference", path("model"), "--data", path("prefs.jsonl"),
                         "--loss", loss, "--beta", "0.1", "--alpha", "0.01", "--with-tokens"});
    ASSERT_EQ(run.exit_code, 0) << run.output;
    const auto lines = read_json_lines(run.output);
    ASSERT_EQ(lines.size(), 7u) << run.output;
    for (std::size_t i = 0; i < 6; ++i) {
      const auto& line = lines[i];
      EXPECT_EQ(line.at("rewards").at("chosen").get<double>(), 0.0);
      EXPECT_EQ(line.at("rewards").at("rejected").get<double>(), 0.0);
      EXPECT_EQ(line.at("rewards").at("reference_response").get<double>(), 0.0);
      EXPECT_NEAR(line.at("loss").get<double>(), std::log(2.0), 1e-6);
      EXPECT_LT(line.at("policy_logps").at("chosen").get<double>(), -1.0);
      EXPECT_EQ(line.at("policy_logps").at("chosen"), line.at("reference_logps").at("chosen"));
      EXPECT_FALSE(line.at("token_ids").at("chosen").empty());
      EXPECT_FALSE(line.at("token_ids").at("reference_response").empty());
    }
    const auto& summary = lines.back();
    EXPECT_TRUE(summary.at("summary").get<bool>());
    EXPECT_NEAR(summary.at("mean_loss").get<double>(), std::log(2.0), 1e-6);
    EXPECT_EQ(summary.at("reward_accuracy").get<double>(), 0.0);
    EXPECT_EQ(summary.at("mean_margin").get<double>(), 0.0);
  }
}

TEST_F(TrainDpoCli, TrainedPolicyScoresPositiveMarginsAgainstItsReference) {
  const std::string out = path("score_trained");
  ASSERT_EQ(run_selm({"dpo", "-c", write_config("score_trained", "dpo", 20, 6, 0), "--out", out}).exit_code, 0);
  auto run = run_selm({"score", "--policy", out + "/model", "--reference", path("model"), "--data", path("prefs.jsonl"),
                       "--loss", "dpo", "--beta", "0.1"});
  ASSERT_EQ(run.exit_code, 0) << run.output;
  const auto summary = read_json_lines(run.output).back();
  EXPECT_EQ(summary.at("reward_accuracy").get<double>(), 1.0);
  EXPECT_GT(summary.at("mean_margin").get<double>(), 0.5);
  EXPECT_LT(summary.at("mean_loss").get<double>(), std::log(2.0));
}

TEST_F(TrainDpoCli, BadPreferenceFilesExitTwoNamingTheLineAndWriteNothing) {
  const std::string good = R"({"prompt": "Hi there.", "chosen": "The sea.", "rejected": "A dog."})";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"missing_field", R"({"prompt": "Hi there.", "chosen": "The sea."})"},
      {"non_string", R"({"prompt": "Hi there.", "chosen": 42, "rejected": "A dog."})"},
      {"empty_response", R"({"prompt": "Hi there.", "chosen": "", "rejected": "A dog."})"},
      {"invalid_json", R"({"prompt": "Hi there.", "chosen": "The sea", )"},
  };
  for (const auto& [name, bad_line] : cases) {
    const std::string data = path("bad_" + name + ".jsonl");
    write_text(data, good + "\n" + good + "\n" + bad_line + "\n" + good + "\n");
    const std::string out = path("bad_out_" + name);
    auto run = run_selm({"dpo", "-c", write_config("bad", "dpo", 1, 2, 0), "--data", data, "--out", out});
    EXPECT_EQ(run.exit_code, 2) << name << ": " << run.output;
    EXPECT_NE(run.output.find("bad_" + name + ".jsonl:3"), std::string::npos) << name << ": " << run.output;
    EXPECT_FALSE(fs::exists(out)) << name;
    EXPECT_FALSE(fs::exists(fs::path(out) / "model")) << name;
  }
}

pid_t spawn_selm(const std::vector<std::string>& args, const std::string& log) {
  const std::string program = SELM_BINARY;
  std::vector<std::string> all{program};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& arg : all) argv.push_back(arg.data());
  argv.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid == 0) {
    const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      ::dup2(fd, STDOUT_FILENO);
      ::dup2(fd, STDERR_FILENO);
    }
    ::execv(program.c_str(), argv.data());
    ::_exit(127);
  }
  return pid;
}

std::int64_t checkpoint_step(const fs::path& output_dir) {
  try {
    const auto checkpoint = find_checkpoint(output_dir);
    return checkpoint ? read_trainer_state(*checkpoint).global_step : 0;
  } catch (const std::exception&) {
    return -1;  // caught mid-rename: try again
  }
}

TEST_F(TrainDpoCli, SigkilledRunResumesToBitIdenticalWeights) {
  // 6 pairs, batch 2: 3 steps per epoch, 10 epochs, a checkpoint after every step.
  const std::string config = write_config("resume", "selm", 10, 2, 1);
  auto straight = run_selm({"dpo", "-c", config, "--out", path("resume_straight")});
  ASSERT_EQ(straight.exit_code, 0) << straight.output;

  const fs::path crashed = path("resume_crashed");
  const pid_t pid = spawn_selm({"dpo", "-c", config, "--out", crashed.string()}, path("resume_crashed.log"));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (checkpoint_step(crashed) < 5 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  ASSERT_EQ(::kill(pid, SIGKILL), 0);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status)) << "the run finished before it could be killed: " << read_text(path("resume_crashed.log"));
  const std::int64_t killed_at = checkpoint_step(crashed);
  EXPECT_GE(killed_at, 5);
  EXPECT_LT(killed_at, 30);
  EXPECT_FALSE(fs::exists(crashed / "model"));

  auto resumed = run_selm({"dpo", "-c", config, "--out", crashed.string()});
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_NE(resumed.output.find("resumed from " + std::to_string(killed_at)), std::string::npos) << resumed.output;
  std::cout << "killed after checkpoint step " << killed_at << " of 30\n";
  EXPECT_EQ(read_text(path("resume_straight") + "/model/model.safetensors"),
            read_text(crashed.string() + "/model/model.safetensors"));
  const auto straight_metrics = read_json_lines(read_text(path("resume_straight") + "/train_metrics.jsonl"));
  const auto resumed_metrics = read_json_lines(read_text(crashed.string() + "/train_metrics.jsonl"));
  ASSERT_EQ(straight_metrics.size(), 30u);
  ASSERT_EQ(resumed_metrics.size(), 30u);
  EXPECT_EQ(straight_metrics.back().at("loss"), resumed_metrics.back().at("loss"));
}

// Reported, not asserted: the tiny test model makes the difference small; see the report.
TEST_F(TrainDpoCli, ReportsResidentMemoryWithAndWithoutAReferenceModel) {
  const std::string config = write_config("memory", "selm", 1, 6, 0);
  auto precomputed = run_selm({"dpo", "-c", config, "--out", path("memory_precomputed")});
  ASSERT_EQ(precomputed.exit_code, 0) << precomputed.output;
  auto kept = run_selm({"dpo", "-c", config, "--out", path("memory_kept"), "--keep-reference"});
  ASSERT_EQ(kept.exit_code, 0) << kept.output;
  const std::regex pattern("rss after setup ([0-9.]+) MiB, peak rss ([0-9.]+) MiB");
  std::smatch with_cache, with_reference;
  ASSERT_TRUE(std::regex_search(precomputed.output, with_cache, pattern)) << precomputed.output;
  ASSERT_TRUE(std::regex_search(kept.output, with_reference, pattern)) << kept.output;
  std::cout << "precomputed reference log-probs: rss after setup " << with_cache[1] << " MiB, peak " << with_cache[2]
            << " MiB\nreference model kept:            rss after setup " << with_reference[1] << " MiB, peak "
            << with_reference[2] << " MiB\n";
  // Both ways train the same: the first step's loss agrees.
  const auto a = read_json_lines(read_text(path("memory_precomputed") + "/train_metrics.jsonl"));
  const auto b = read_json_lines(read_text(path("memory_kept") + "/train_metrics.jsonl"));
  ASSERT_EQ(a.size(), 1u);
  ASSERT_EQ(b.size(), 1u);
  EXPECT_NEAR(a[0].at("loss").get<double>(), b[0].at("loss").get<double>(), 1e-5);
}

}  // namespace
}  // namespace selm
