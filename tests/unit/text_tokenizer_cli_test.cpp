#include <gtest/gtest.h>

#include "selm/text/tokenizer.hpp"
#include "support/test_support.hpp"
#include "text_test_helpers.hpp"

namespace selm::test {
namespace SELM_UNITY_ID {

TEST(TextTokenizerCli, TrainWritesTokenizerIntoDirectory) {
  TempDir dir;
  write_text(dir / "corpus.txt", tokenizer_training_text());
  const auto result = run_selm({"tokenizer", "train", "--input", (dir / "corpus.txt").string(), "--vocab-size", "400",
                                "--out", (dir / "tok").string(), "--chat-template", "chatml"});
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_NE(result.output.find("vocab size 400 (139 learned pieces, 256 byte pieces, 5 special)"), std::string::npos)
      << result.output;
  const auto tokenizer = load_tokenizer(dir / "tok");
  EXPECT_EQ(tokenizer->vocab_size(), 400);
  EXPECT_TRUE(tokenizer->token_to_id("<|im_end|>").has_value());
  EXPECT_NE(tokenizer->config().chat_template.find("<|im_start|>"), std::string::npos);
}

TEST(TextTokenizerCli, TrainAcceptsAModelFilePath) {
  TempDir dir;
  write_text(dir / "a.txt", tokenizer_training_text());
  const auto result = run_selm({"tokenizer", "train", "-i", (dir / "a.txt").string(), "--vocab-size", "380",
                                "--model-type", "bpe", "-o", (dir / "out" / "my.model").string()});
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_TRUE(fs::exists(dir / "out" / "my.model"));
  EXPECT_TRUE(fs::exists(dir / "out" / "tokenizer_config.json"));
  EXPECT_EQ(load_tokenizer(dir / "out" / "my.model")->vocab_size(), 380);
}

TEST(TextTokenizerCli, MissingInputIsExitTwoNamingTheFile) {
  TempDir dir;
  const std::string missing = (dir / "nowhere.txt").string();
  const auto result =
      run_selm({"tokenizer", "train", "--input", missing, "--vocab-size", "400", "--out", (dir / "tok").string()});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.output.find(missing), std::string::npos) << result.output;
  EXPECT_FALSE(fs::exists(dir / "tok" / "tokenizer.model"));
}

TEST(TextTokenizerCli, BadArgumentsAreExitTwo) {
  EXPECT_EQ(run_selm({"tokenizer", "train", "--input", "x.txt", "--out", "y"}).exit_code, 2);  // no --vocab-size
  EXPECT_EQ(run_selm({"tokenizer", "train", "--input", "x.txt", "--vocab-size", "400", "--out", "y", "--model-type",
                      "wordpiece"})
                .exit_code,
            2);
  EXPECT_EQ(run_selm({"tokenizer"}).exit_code, 2);
}

TEST(TextTokenizerCli, HelpDescribesTheOptions) {
  const auto result = run_selm({"tokenizer", "train", "--help"});
  EXPECT_EQ(result.exit_code, 0);
  for (const char* option : {"--input", "--vocab-size", "--out", "--model-type", "--chat-template"})
    EXPECT_NE(result.output.find(option), std::string::npos) << option;
}

}  // namespace
}  // namespace selm::test
