// A model made with a real tokenizer.json and its own chat template (Qwen3's), run through
// init, generate, score and a one-round `selm train`, with the prompt ids checked against
// transformers' way: the template rendered by jinja2, the text encoded by the reference
// tokenizer (tests/data/tokenizer_golden/qwen3_chat_prompts.json, made by
// scripts/dev/make_chat_prompt_goldens.py).
#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "selm/model/language_model.hpp"
#include "selm/run/json_fields.hpp"
#include "selm/run/run_paths.hpp"
#include "support/online_run_fixture.hpp"
#include "support/test_support.hpp"

namespace selm::test {
namespace SELM_UNITY_ID {

// The output lines of a command that are JSON objects.
std::vector<nlohmann::json> json_lines_of(const std::string& output) {
  std::vector<nlohmann::json> lines;
  std::size_t start = 0;
  while (start < output.size()) {
    std::size_t end = output.find('\n', start);
    if (end == std::string::npos) end = output.size();
    const std::string line = output.substr(start, end - start);
    if (!line.empty() && line.front() == '{') lines.push_back(nlohmann::json::parse(line));
    start = end + 1;
  }
  return lines;
}

class HfTokenizerRun : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    const fs::path source = real_tokenizer_dir("qwen3");
    fs::create_directories(dir_->path() / "tokenizer");
    for (const char* file : {"tokenizer.json", "tokenizer_config.json"})
      fs::copy_file(source / file, dir_->path() / "tokenizer" / file);
    write_text(path("model.yaml"),
               "run:\n  seed: 3\narchitecture:\n  hidden_size: 32\n  intermediate_size: 64\n  num_hidden_layers: 1\n"
               "  num_attention_heads: 2\n  num_key_value_heads: 1\n");
    init_ = new CommandResult(run_selm({"init", "-c", path("model.yaml"), "--tokenizer", path("tokenizer"), "--out",
                                        path("model")}));
    golden_ = new nlohmann::json(read_json_file(test_data_dir() / "tokenizer_golden" / "qwen3_chat_prompts.json"));
    std::string prefs;
    for (const auto& record : (*golden_)["records"]) {
      prefs += nlohmann::json({{"prompt", record["messages"]},
                               {"chosen", "Yes, 好的 — with pleasure 😊."},
                               {"rejected", "No. I will not."}})
                   .dump() +
               "\n";
    }
    write_text(path("prefs.jsonl"), prefs);
  }
  static void TearDownTestSuite() {
    delete golden_;
    delete init_;
    delete dir_;
  }
  static std::string path(const std::string& name) { return (dir_->path() / name).string(); }

  static TempDir* dir_;
  static CommandResult* init_;
  static nlohmann::json* golden_;
};

TempDir* HfTokenizerRun::dir_ = nullptr;
CommandResult* HfTokenizerRun::init_ = nullptr;
nlohmann::json* HfTokenizerRun::golden_ = nullptr;

TEST_F(HfTokenizerRun, InitWritesTheTokenizerAndItsTemplateUnchanged) {
  ASSERT_EQ(init_->exit_code, 0) << init_->output;
  EXPECT_EQ(read_text(dir_->path() / "model" / "tokenizer.json"), read_text(dir_->path() / "tokenizer" / "tokenizer.json"));
  EXPECT_FALSE(fs::exists(dir_->path() / "model" / "tokenizer.model"));
  const auto written = read_json_file(dir_->path() / "model" / "tokenizer_config.json");
  const auto original = read_json_file(dir_->path() / "tokenizer" / "tokenizer_config.json");
  EXPECT_EQ(written["chat_template"], original["chat_template"]);
  EXPECT_EQ(written["tokenizer_class"], original["tokenizer_class"]);
  const auto config = read_json_file(dir_->path() / "model" / "config.json");
  EXPECT_EQ(config["vocab_size"], 151669);  // 151,643 pieces and 26 added tokens
  EXPECT_EQ(config["eos_token_id"], 151645);  // <|im_end|>, the config's eos_token
}

TEST_F(HfTokenizerRun, ScorePromptIdsAreTheReferenceRenderingEncodedByTheReference) {
  ASSERT_EQ(init_->exit_code, 0) << init_->output;
  const auto scored = run_selm({"score", "--policy", path("model"), "--reference", path("model"), "--data",
                                path("prefs.jsonl"), "--with-tokens", "--loss", "dpo", "train.max_prompt_length=1024",
                                "train.max_length=2048"});
  ASSERT_EQ(scored.exit_code, 0) << scored.output;
  const auto lines = json_lines_of(scored.output);
  const auto& records = (*golden_)["records"];
  ASSERT_GE(records.size(), 10u);
  ASSERT_EQ(lines.size(), records.size() + 1) << scored.output;  // one line per record and the summary
  const std::int64_t im_end = 151645;
  for (std::size_t i = 0; i < records.size(); ++i) {
    EXPECT_EQ(lines[i]["token_ids"]["prompt"], records[i]["ids"]) << "record " << i << ": " << records[i]["rendered"];
    const auto& chosen = lines[i]["token_ids"]["chosen"];
    ASSERT_FALSE(chosen.empty());
    EXPECT_EQ(chosen.back(), im_end) << "a reply ends with the template's end of turn";
    // Qwen3's template writes an empty reasoning block ahead of a reply: <think>, "\n\n", </think>, "\n\n".
    EXPECT_EQ(chosen[0], 151667) << chosen.dump();
    EXPECT_EQ(chosen[2], 151668) << chosen.dump();
  }
}

TEST_F(HfTokenizerRun, GenerateAndOneRoundOfTrainingRun) {
  ASSERT_EQ(init_->exit_code, 0) << init_->output;
  const auto generated = run_selm({"generate", "--model", path("model"), "--prompts", path("prefs.jsonl"), "--out",
                                   path("generated.jsonl"), "generate.max_new_tokens=6", "generate.temperature=1.0",
                                   "generate.batch_size=4", "run.threads=1"});
  ASSERT_EQ(generated.exit_code, 0) << generated.output;
  const auto outputs = read_json_lines(path("generated.jsonl"));
  ASSERT_EQ(outputs.size(), (*golden_)["records"].size());
  for (const auto& output : outputs) {
    EXPECT_TRUE(output["response"].is_string());
    EXPECT_LE(output["token_ids"].size(), 6u);
  }

  write_text(path("train.yaml"),
             "run:\n  name: qwen3-tiny\n  output_dir: " + path("runs") + "\n  threads: 1\nmodel:\n  path: " +
                 path("model") + "\ndata:\n  train_file: " + path("prefs.jsonl") + "\n  eval_file: " +
                 path("prefs.jsonl") +
                 "\njudge:\n  type: lexicon\n  batch_size: 4\nonline:\n  rounds: 1\ngenerate:\n  max_new_tokens: 6\n"
                 "  temperature: 1.0\n  batch_size: 4\ntrain:\n  beta: 0.1\n  alpha: 0.01\n  learning_rate: 0.001\n"
                 "  lr_schedule: constant\n  warmup_ratio: 0\n  batch_size: 2\n  max_length: 512\n"
                 "  max_prompt_length: 384\neval:\n  max_new_tokens: 6\n  kl_samples: 1\n  num_examples: 2\n"
                 "  max_prompts: 4\n");
  const auto trained = run_selm({"train", "-c", path("train.yaml")});
  ASSERT_EQ(trained.exit_code, 0) << trained.output;
  const fs::path round_model = dir_->path() / "runs" / "qwen3-tiny" / round_dir_name(1) / run_files::kModelDir;
  ASSERT_TRUE(fs::exists(round_model / "tokenizer.json")) << trained.output;
  EXPECT_EQ(read_text(round_model / "tokenizer.json"), read_text(dir_->path() / "tokenizer" / "tokenizer.json"));
  EXPECT_EQ(read_json_file(round_model / "tokenizer_config.json")["chat_template"],
            read_json_file(dir_->path() / "tokenizer" / "tokenizer_config.json")["chat_template"]);
}

TEST_F(HfTokenizerRun, GenerationStopsAtEveryEndTokenTheModelLists) {
  ASSERT_EQ(init_->exit_code, 0) << init_->output;
  TempDir copy;
  fs::copy(dir_->path() / "model", copy.path(), fs::copy_options::recursive);
  write_text(copy / "generation_config.json", R"({"bos_token_id": 151643, "eos_token_id": [151645, 151643]})");
  const LanguageModel lm = load_language_model(copy.path(), ModelSettings{}, TokenizerSettings{});
  EXPECT_EQ(lm.formatter->chat_template().end_of_turn_token(), "<|im_end|>");
  EXPECT_EQ(lm.formatter->stop_ids(), (std::vector<std::int64_t>{151645, 151643}));
}

TEST(HfTokenizerCli, TemplateThatRaisesAndBrokenTokenizerJsonExitTwo) {
  TempDir dir;
  const fs::path gemma = real_tokenizer_dir("gemma3");
  // Gemma 3's template refuses roles that do not alternate, with its own message.
  write_text(dir / "bad_roles.jsonl", R"({"messages": [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}]})" "\n");
  const auto raised = run_selm({"tokenizer", "chat", "--tokenizer", gemma.string(), "--messages", (dir / "bad_roles.jsonl").string()});
  EXPECT_EQ(raised.exit_code, 2) << raised.output;
  EXPECT_NE(raised.output.find("Conversation roles must alternate user/assistant/user/assistant/..."), std::string::npos)
      << raised.output;
  EXPECT_NE(raised.output.find((gemma / "tokenizer_config.json").string() + " (chat_template):"), std::string::npos)
      << raised.output;

  write_text(dir / "ok.jsonl", R"({"prompt": "Hello"})" "\n");
  const auto rendered = run_selm({"tokenizer", "chat", "--tokenizer", gemma.string(), "--messages", (dir / "ok.jsonl").string()});
  ASSERT_EQ(rendered.exit_code, 0) << rendered.output;
  const auto lines = json_lines_of(rendered.output);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0]["text"], "<bos><start_of_turn>user\nHello<end_of_turn>\n<start_of_turn>model\n");
  EXPECT_EQ(lines[1]["end_of_turn"], "<end_of_turn>");

  // A merge that names a token missing from the vocabulary.
  fs::create_directories(dir / "broken");
  write_text(dir / "broken" / "tokenizer.json",
             R"({"model": {"type": "BPE", "vocab": {"a": 0, "b": 1}, "merges": ["a b"]}})");
  const auto broken = run_selm({"tokenizer", "encode", "--tokenizer", (dir / "broken").string(), "--text", "ab"});
  EXPECT_EQ(broken.exit_code, 2) << broken.output;
  EXPECT_NE(broken.output.find((dir / "broken" / "tokenizer.json").string()), std::string::npos) << broken.output;
  EXPECT_NE(broken.output.find("model.merges[0]"), std::string::npos) << broken.output;
  write_text(dir / "broken" / "tokenizer.json", R"({"model": {"type": "Unigram", "vocab": []}})");
  const auto unigram = run_selm({"tokenizer", "encode", "--tokenizer", (dir / "broken").string(), "--text", "ab"});
  EXPECT_EQ(unigram.exit_code, 2) << unigram.output;
  EXPECT_NE(unigram.output.find("model.type"), std::string::npos) << unigram.output;
  write_text(dir / "broken" / "tokenizer.json", "{\"model\": ");
  const auto truncated = run_selm({"tokenizer", "encode", "--tokenizer", (dir / "broken").string(), "--text", "ab"});
  EXPECT_EQ(truncated.exit_code, 2) << truncated.output;
  EXPECT_NE(truncated.output.find((dir / "broken" / "tokenizer.json").string()), std::string::npos) << truncated.output;
}

}  // namespace
}  // namespace selm::test
