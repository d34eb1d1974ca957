// `selm sft` and `selm bench train` end to end: a tiny model trained on synthetic text lowers its
// held-out perplexity, a stopped run resumes to the same weights, bad records are exit code 2
// naming the line with no model written, and the training benchmark prints sane JSON.
#include <gtest/gtest.h>

#include <cmath>
#include <sstream>

#include <nlohmann/json.hpp>

#include "support/test_support.hpp"

namespace selm {
namespace SELM_UNITY_ID {

using test::read_text;
using test::run_selm;
using test::write_text;
namespace fs = std::filesystem;

std::vector<nlohmann::json> read_records(const fs::path& file) {
  std::vector<nlohmann::json> records;
  std::istringstream lines(read_text(file));
  std::string line;
  while (std::getline(lines, line)) {
    if (!line.empty()) records.push_back(nlohmann::json::parse(line));
  }
  return records;
}

// Sentences of the synthetic corpus as SFT records: text records, and prompt/response records
// that continue a sentence's first words.
std::string sft_records(int sentences, unsigned seed) {
  std::istringstream corpus(test::synthetic_corpus(sentences, seed));
  std::string sentence;
  std::string out;
  int index = 0;
  while (std::getline(corpus, sentence)) {
    if (sentence.size() < 12) continue;
    if (index++ % 2 == 0) {
      out += nlohmann::json{{"text", sentence}}.dump() + "\n";
    } else {
      const std::size_t cut = sentence.find(' ', sentence.size() / 3);
      if (cut == std::string::npos) continue;
      out += nlohmann::json{{"prompt", sentence.substr(0, cut)}, {"response", sentence.substr(cut + 1)}}.dump() + "\n";
    }
  }
  return out;
}

class SftCli : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new test::TempDir();
    ASSERT_EQ(test::make_tiny_model(dir_->path(), 11, 3, 0.05), "");
    write_text(path("train.jsonl"), sft_records(240, 21));
    write_text(path("eval.jsonl"), sft_records(40, 99));
    write_text(path("sft.yaml"),
               "model:\n  path: " + path("model") + "\nsft:\n  train_file: " + path("train.jsonl") +
                   "\n  eval_file: " + path("eval.jsonl") +
                   "\ntrain:\n  learning_rate: 0.003\n  lr_schedule: constant\n  warmup_ratio: 0.05\n"
                   "  batch_size: 8\n  epochs: 2\n  max_length: 96\n  max_prompt_length: 48\n"
                   "  max_grad_norm: 1.0\n  log_every: 1\n");
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }
  static std::string path(const std::string& name) { return (dir_->path() / name).string(); }
  static test::TempDir* dir_;
};

test::TempDir* SftCli::dir_ = nullptr;

TEST_F(SftCli, TrainingLowersHeldOutPerplexityAndWritesAModel) {
  const std::string out = path("run_padded");
  auto run = run_selm({"sft", "-c", path("sft.yaml"), "--out", out});
  ASSERT_EQ(run.exit_code, 0) << run.output;
  const auto eval = nlohmann::json::parse(read_text(fs::path(out) / "eval.json"));
  const double initial = eval.at("initial").at("perplexity").get<double>();
  const double final_perplexity = eval.at("final").at("perplexity").get<double>();
  EXPECT_EQ(eval.at("initial").at("loss_tokens"), eval.at("final").at("loss_tokens"));
  // Training must at least halve the held-out perplexity of the random start.
  EXPECT_LT(final_perplexity, 0.5 * initial) << run.output;
  EXPECT_NEAR(std::log(final_perplexity), eval.at("final").at("loss").get<double>(), 1e-9);

  const auto metrics = read_records(fs::path(out) / "train_metrics.jsonl");
  ASSERT_GE(metrics.size(), 40u);  // 2 epochs of ~30 steps
  const double first_loss = metrics.front().at("loss").get<double>();
  const double last_loss = metrics.back().at("loss").get<double>();
  EXPECT_LT(last_loss, first_loss - 1.0) << "first " << first_loss << " last " << last_loss;
  EXPECT_GT(metrics.front().at("tokens").get<double>(), 0.0);
  EXPECT_NEAR(metrics.front().at("perplexity").get<double>(), std::exp(first_loss), 1e-6 * std::exp(first_loss));

  // The final model is a complete model directory that generation loads.
  for (const char* file : {"config.json", "model.safetensors", "tokenizer.model", "tokenizer_config.json"}) {
    EXPECT_TRUE(fs::exists(fs::path(out) / "model" / file)) << file;
  }
  write_text(path("prompts.jsonl"), "{\"prompt\": \"The old sailor\"}\n");
  auto generate = run_selm({"generate", "--model", out + "/model", "--prompts", path("prompts.jsonl"), "--out",
                            path("generated.jsonl"), "generate.max_new_tokens=4"});
  EXPECT_EQ(generate.exit_code, 0) << generate.output;
}

TEST_F(SftCli, PackedRunStoppedAndResumedEqualsAnUninterruptedOne) {
  const std::vector<std::string> common = {"sft", "-c", path("sft.yaml"), "sft.packing=true",
                                           "train.epochs=1", "run.threads=1"};
  auto with = [&](std::vector<std::string> extra) {
    std::vector<std::string> args = common;
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  };
  auto whole = run_selm(with({"--out", path("packed_whole")}));
  ASSERT_EQ(whole.exit_code, 0) << whole.output;
  auto first = run_selm(with({"--out", path("packed_resumed"), "--stop-after-step", "2"}));
  ASSERT_EQ(first.exit_code, 0) << first.output;
  EXPECT_FALSE(fs::exists(path("packed_resumed/model")));
  EXPECT_NE(first.output.find("stopped after step 2"), std::string::npos) << first.output;
  auto second = run_selm(with({"--out", path("packed_resumed")}));
  ASSERT_EQ(second.exit_code, 0) << second.output;
  EXPECT_NE(second.output.find("resuming"), std::string::npos) << second.output;
  EXPECT_EQ(read_text(path("packed_whole/model/model.safetensors")),
            read_text(path("packed_resumed/model/model.safetensors")));
  // Packing fills rows: fewer rows (steps) than the padded run has examples.
  const auto metrics = read_records(path("packed_whole/train_metrics.jsonl"));
  ASSERT_FALSE(metrics.empty());
  EXPECT_GT(metrics.back().at("tokens").get<double>(), 0.0);
}

TEST_F(SftCli, BadRecordsAreExitCode2NamingTheLineAndWriteNoModel) {
  const std::string good = nlohmann::json{{"prompt", "a"}, {"response", "b"}}.dump() + "\n";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {good + good + "{\"prompt\": \"x\", \"response\": \n", ":3"},
      {good + "{\"prompt\": \"x\"}\n", ":2"},
      {good + good + good + "{\"prompt\": \"x\", \"response\": 5}\n", ":4"},
      {"{\"text\": 7}\n", ":1"},
  };
  int index = 0;
  for (const auto& [content, line] : cases) {
    const std::string data = path("bad" + std::to_string(index) + ".jsonl");
    const std::string out = path("bad_run" + std::to_string(index));
    ++index;
    write_text(data, content);
    auto run = run_selm({"sft", "-c", path("sft.yaml"), "--out", out, "sft.train_file=" + data});
    EXPECT_EQ(run.exit_code, 2) << run.output;
    EXPECT_NE(run.output.find(data + line), std::string::npos) << run.output;
    EXPECT_FALSE(fs::exists(out)) << out;
  }
}

TEST_F(SftCli, BenchTrainPrintsJson) {
  auto run = run_selm({"bench", "train", "--model", path("model"), "--batch", "2", "--seq", "16", "--steps", "2",
                       "--loss", "selm", "--gemm-size", "512"});
  ASSERT_EQ(run.exit_code, 0) << run.output;
  const auto json = nlohmann::json::parse(run.output.substr(run.output.find('{')));
  EXPECT_EQ(json.at("tokens_per_step"), 3 * 2 * 16);
  EXPECT_GT(json.at("tokens_per_second").get<double>(), 0.0);
  EXPECT_GT(json.at("ms_per_step").get<double>(), 0.0);
  EXPECT_GT(json.at("gemm_gflops").get<double>(), 0.0);
  const double mfu = json.at("mfu").get<double>();
  EXPECT_GT(mfu, 0.0);
  EXPECT_LE(mfu, 1.0);
  EXPECT_GT(json.at("peak_rss_mb").get<double>(), 1.0);
  EXPECT_TRUE(std::isfinite(json.at("last_loss").get<double>()));
}

}  // namespace
}  // namespace selm
