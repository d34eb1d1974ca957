// End-to-end through the `selm` binary: tokenizer training, model creation, generation, the
// generation benchmark, and bad input (corrupt checkpoints, bad prompts) mapped to exit code 2.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "support/test_support.hpp"

namespace selm {
namespace SELM_UNITY_ID {

using test::read_text;
using test::run_selm;
using test::write_text;
namespace fs = std::filesystem;

// One tokenizer and one tiny model shared by the suite (made once: each takes a few seconds).
class CliFoundation : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new test::TempDir();
    ASSERT_EQ(test::make_tiny_model(dir_->path(), 11, 5, 0.1), "");
    write_text(path("prompts.jsonl"),
               "{\"prompt\": \"The old sailor\"}\n{\"prompt\": \"A quiet child found\"}\n"
               "{\"messages\": [{\"role\": \"user\", \"content\": \"Our captain\"}]}\n");
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }
  static std::string path(const std::string& name) { return (dir_->path() / name).string(); }

  // A copy of the model directory to damage.
  static std::string model_copy(const std::string& name) {
    const fs::path copy = dir_->path() / name;
    fs::remove_all(copy);
    fs::copy(dir_->path() / "model", copy, fs::copy_options::recursive);
    return copy.string();
  }

  static test::TempDir* dir_;
};

test::TempDir* CliFoundation::dir_ = nullptr;

std::vector<nlohmann::json> read_records(const std::string& file) {
  std::vector<nlohmann::json> records;
  std::istringstream lines(read_text(file));
  std::string line;
  while (std::getline(lines, line)) {
    if (!line.empty()) records.push_back(nlohmann::json::parse(line));
  }
  return records;
}

TEST_F(CliFoundation, InitWritesAHuggingFaceDirectory) {
  for (const char* file : {"config.json", "model.safetensors", "generation_config.json", "tokenizer.model",
                           "tokenizer_config.json", "special_tokens_map.json"}) {
    EXPECT_TRUE(fs::exists(fs::path(path("model")) / file)) << file;
  }
  const auto config = nlohmann::json::parse(read_text(path("model/config.json")));
  EXPECT_EQ(config.at("architectures"), nlohmann::json::array({"LlamaForCausalLM"}));
  EXPECT_EQ(config.at("vocab_size"), 300);
  EXPECT_EQ(config.at("hidden_size"), 64);
  EXPECT_EQ(config.at("num_key_value_heads"), 2);
  // A second init into the same directory is refused without --force.
  auto again = run_selm({"init", "-c", path("model.yaml"), "--tokenizer", path("tokenizer/tokenizer.model"), "--out",
                         path("model")});
  EXPECT_EQ(again.exit_code, 2);
  EXPECT_NE(again.output.find("--force"), std::string::npos) << again.output;
}

TEST_F(CliFoundation, GenerateWritesOneRecordPerSampleAndResumes) {
  const std::string out = path("generations.jsonl");
  fs::remove(out);
  auto run = run_selm({"generate", "--model", path("model"), "--prompts", path("prompts.jsonl"), "--out", out,
                       "generate.num_samples=2", "generate.max_new_tokens=12", "generate.temperature=1.0"});
  ASSERT_EQ(run.exit_code, 0) << run.output;
  auto records = read_records(out);
  ASSERT_EQ(records.size(), 6u);
  std::set<std::pair<int, int>> keys;
  for (const auto& record : records) {
    keys.insert({record.at("prompt_index").get<int>(), record.at("sample_index").get<int>()});
    const auto& ids = record.at("token_ids");
    EXPECT_GE(ids.size(), 1u);
    EXPECT_LE(ids.size(), 12u);
    EXPECT_LT(record.at("logprob").get<double>(), 0.0);
    const std::string reason = record.at("finish_reason");
    EXPECT_TRUE(reason == "eos" || reason == "length") << reason;
    if (reason == "length") {
      EXPECT_EQ(ids.size(), 12u);
    }
  }
  EXPECT_EQ(keys.size(), 6u);

  // Cut the file after its first record plus half a line, as a crash would; the rerun
  // completes it and the result equals the uninterrupted file.
  const std::string complete = read_text(out);
  const std::size_t first_end = complete.find('\n') + 1;
  write_text(out, complete.substr(0, first_end) + complete.substr(first_end, 20));
  auto resumed = run_selm({"generate", "--model", path("model"), "--prompts", path("prompts.jsonl"), "--out", out,
                           "generate.num_samples=2", "generate.max_new_tokens=12", "generate.temperature=1.0"});
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  auto by_key = [](std::vector<nlohmann::json> list) {
    std::map<std::pair<int, int>, std::string> map;
    for (const auto& r : list) map[{r.at("prompt_index").get<int>(), r.at("sample_index").get<int>()}] = r.dump();
    return map;
  };
  EXPECT_EQ(by_key(read_records(out)), by_key(records));
}

TEST_F(CliFoundation, BenchGeneratePrintsJson) {
  auto run = run_selm({"bench", "generate", "--model", path("model"), "--batch", "2", "--prompt-len", "8",
                       "--new-tokens", "6", "--repeats", "1"});
  ASSERT_EQ(run.exit_code, 0) << run.output;
  const auto json = nlohmann::json::parse(run.output.substr(run.output.find('{')));
  EXPECT_EQ(json.at("generated_tokens"), 12);
  EXPECT_GT(json.at("tokens_per_second").get<double>(), 0.0);
  EXPECT_GT(json.at("ms_per_decode_step").get<double>(), 0.0);
  EXPECT_GT(json.at("peak_rss_mb").get<double>(), 1.0);
}

TEST_F(CliFoundation, BadPromptsAreExitCode2NamingTheLine) {
  write_text(path("bad_prompts.jsonl"), "{\"prompt\": \"fine\"}\n{\"prompt\": 3}\n");
  auto run = run_selm({"generate", "--model", path("model"), "--prompts", path("bad_prompts.jsonl"), "--out",
                       path("never.jsonl")});
  EXPECT_EQ(run.exit_code, 2) << run.output;
  EXPECT_NE(run.output.find("bad_prompts.jsonl:2"), std::string::npos) << run.output;
  write_text(path("bad_json.jsonl"), "{\"prompt\": \"fine\"}\n{\"prompt\": \"x\"\n{\"prompt\": \"y\"}\n");
  run = run_selm({"generate", "--model", path("model"), "--prompts", path("bad_json.jsonl"), "--out",
                  path("never.jsonl")});
  EXPECT_EQ(run.exit_code, 2) << run.output;
  EXPECT_NE(run.output.find("bad_json.jsonl:2: invalid JSON"), std::string::npos) << run.output;
  EXPECT_FALSE(fs::exists(path("never.jsonl")));
}

// Rewrites DIR/model.safetensors with `edit` applied to its JSON header (data kept as is).
void edit_safetensors_header(const std::string& dir, const std::function<void(nlohmann::json&)>& edit) {
  const fs::path file = fs::path(dir) / "model.safetensors";
  const std::string bytes = read_text(file);
  std::uint64_t length = 0;
  for (int i = 7; i >= 0; --i) length = (length << 8) | static_cast<unsigned char>(bytes[i]);
  nlohmann::json header = nlohmann::json::parse(bytes.substr(8, length));
  edit(header);
  const std::string new_header = header.dump();
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((new_header.size() >> (8 * i)) & 0xff);
  write_text(file, out + new_header + bytes.substr(8 + length));
}

// Runs generation on a damaged model and expects exit code 2 with the file and the problem named.
void expect_rejected(const std::string& model, const std::string& prompts, const std::string& file,
                     const std::string& problem) {
  auto run = run_selm({"generate", "--model", model, "--prompts", prompts, "--out", model + "/out.jsonl"});
  EXPECT_EQ(run.exit_code, 2) << run.output;
  EXPECT_NE(run.output.find(file), std::string::npos) << run.output;
  EXPECT_NE(run.output.find(problem), std::string::npos) << run.output;
  EXPECT_FALSE(fs::exists(model + "/out.jsonl"));
}

TEST_F(CliFoundation, CorruptCheckpointsAreExitCode2NamingFileAndProblem) {
  const std::string prompts = path("prompts.jsonl");
  {
    const std::string model = model_copy("truncated");
    const fs::path file = fs::path(model) / "model.safetensors";
    fs::resize_file(file, fs::file_size(file) - 100);
    expect_rejected(model, prompts, file.string(), "past the end of the file");
  }
  {
    const std::string model = model_copy("offsets");
    edit_safetensors_header(model, [](nlohmann::json& header) {
      header["model.norm.weight"]["data_offsets"][1] = 1u << 30;
    });
    expect_rejected(model, prompts, "model.safetensors", "data_offsets [");
    expect_rejected(model, prompts, "model.safetensors", "run past the end of the file");
  }
  {
    const std::string model = model_copy("overlap");
    edit_safetensors_header(model, [](nlohmann::json& header) {
      header["model.layers.0.input_layernorm.weight"]["data_offsets"] = header["model.norm.weight"]["data_offsets"];
    });
    expect_rejected(model, prompts, "model.safetensors", "overlaps");
  }
  {
    const std::string model = model_copy("dtype");
    edit_safetensors_header(model, [](nlohmann::json& header) { header["model.norm.weight"]["dtype"] = "F8_E9M9"; });
    expect_rejected(model, prompts, "model.safetensors", "unknown dtype 'F8_E9M9'");
  }
  {
    const std::string model = model_copy("shape");
    auto config = nlohmann::json::parse(read_text(model + "/config.json"));
    config["intermediate_size"] = 96;
    write_text(model + "/config.json", config.dump(2));
    expect_rejected(model, prompts, "model.safetensors", "disagrees with config.json");
  }
  {
    const std::string model = model_copy("badconfig");
    auto config = nlohmann::json::parse(read_text(model + "/config.json"));
    config["num_attention_heads"] = "four";
    write_text(model + "/config.json", config.dump(2));
    expect_rejected(model, prompts, "config.json", "num_attention_heads");
  }
}

}  // namespace
}  // namespace selm
