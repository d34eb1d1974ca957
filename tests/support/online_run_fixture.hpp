// A tiny model, prompts with the dataset's own pairs, held-out prompts and a config writer for
// the `selm train` suites (integration and crash tests).
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "support/test_support.hpp"

namespace selm::test {

inline std::vector<nlohmann::json> read_json_lines(const std::filesystem::path& file) {
  std::vector<nlohmann::json> records;
  std::ifstream in(file);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty()) records.push_back(nlohmann::json::parse(line));
  }
  return records;
}

// eval.json without the fields that name the run directory.
inline nlohmann::json eval_without_paths(const std::filesystem::path& file) {
  nlohmann::json value = nlohmann::json::parse(read_text(file));
  value.erase("model");
  value.erase("reference");
  return value;
}

// Appendable files may hold their records in another order after a resume: compare sorted lines.
inline std::vector<std::string> sorted_lines(const std::filesystem::path& path) {
  std::vector<std::string> result;
  std::istringstream in(read_text(path));
  std::string line;
  while (std::getline(in, line)) result.push_back(line);
  std::sort(result.begin(), result.end());
  return result;
}

class OnlineRunFixture : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    ASSERT_EQ(make_tiny_model(dir_->path(), 23, 5, 0.05), "");
    // Twelve prompts. Two of every three pairs have a clearly positive chosen and a clearly
    // negative rejected response (VADER words), so the lexicon judge decides; every third pair
    // is neutral on both sides, so it ties unless the generated response carries sentiment.
    std::string prefs;
    const char* subjects[] = {"the sea", "the old house", "the child", "the ship", "the captain", "the night",
                              "the garden", "the road", "the village", "the bread", "the harbour", "the stars"};
    for (int i = 0; i < 12; ++i) {
      const std::string subject = subjects[i];
      nlohmann::json record = {{"prompt", "Tell me about " + subject + "."}};
      if (i % 3 == 2) {
        record["chosen"] = "It was near " + subject + ".";
        record["rejected"] = "There was " + subject + " by the hill.";
      } else {
        record["chosen"] = "I love " + subject + ", it is wonderful and happy.";
        record["rejected"] = "I hate " + subject + ", it is terrible and sad.";
      }
      prefs += record.dump() + "\n";
    }
    write_text(path("prefs.jsonl"), prefs);
    write_text(path("eval_prompts.jsonl"),
               "{\"prompt\": \"What about the sea?\"}\n{\"prompt\": \"Describe the garden.\"}\n"
               "{\"prompt\": \"Where is the ship?\"}\n{\"prompt\": \"Who was the captain?\"}\n");
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }
  static std::string path(const std::string& name) { return (dir_->path() / name).string(); }
  static std::filesystem::path run_dir(const std::string& name) { return dir_->path() / "runs" / name; }

  // Two rounds of six prompts, 8 new tokens, lexicon judge, a learning rate large enough to
  // move a tiny model, checkpoints every step. Returns the arguments of `selm train` with
  // `overrides` (key.path=value) after the config file.
  static std::vector<std::string> train_args(const std::string& name, const std::vector<std::string>& overrides = {}) {
    const std::string file = path(name + ".yaml");
    write_text(file, "run:\n  name: " + name + "\n  output_dir: " + (dir_->path() / "runs").string() +
                         "\n  threads: 1\nmodel:\n  path: " + path("model") + "\ndata:\n  train_file: " +
                         path("prefs.jsonl") + "\n  eval_file: " + path("eval_prompts.jsonl") +
                         "\njudge:\n  type: lexicon\n  batch_size: 2\nonline:\n  rounds: 2\ngenerate:\n"
                         "  max_new_tokens: 8\n  temperature: 1.0\n  batch_size: 2\ntrain:\n  beta: 0.1\n"
                         "  alpha: 0.01\n  learning_rate: 0.001\n  lr_schedule: constant\n  warmup_ratio: 0\n"
                         "  batch_size: 2\n  max_length: 64\n  max_prompt_length: 32\n  log_every: 1\n"
                         "  save_every: 1\neval:\n  max_new_tokens: 8\n  kl_samples: 1\n  num_examples: 2\n");
    std::vector<std::string> args = {"train", "-c", file};
    args.insert(args.end(), overrides.begin(), overrides.end());
    return args;
  }

  static TempDir* dir_;
};

inline TempDir* OnlineRunFixture::dir_ = nullptr;

}  // namespace selm::test
