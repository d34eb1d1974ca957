#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "selm/text/sentencepiece_tokenizer.hpp"
#include "selm/text/tokenizer.hpp"
#include "selm/util/error.hpp"
#include "selm/util/files.hpp"
#include "support/test_support.hpp"
#include "text_test_helpers.hpp"

namespace selm::test {

namespace SELM_UNITY_ID {

std::unique_ptr<Tokenizer> trained_tokenizer(const std::string& chat_template = "plain") {
  return load_tokenizer(trained_tokenizer_dir(chat_template));
}

// A copy of the trained model with the given tokenizer_config.json, in its own directory.
std::unique_ptr<Tokenizer> tokenizer_with_config(const TempDir& dir, const std::string& config_json) {
  fs::copy_file(trained_tokenizer_dir() / "tokenizer.model", dir / "tokenizer.model");
  write_text(dir / "tokenizer_config.json", config_json);
  return load_tokenizer(dir.path());
}

// SentencePiece's own command-line encoder: the independent reference for ids.
std::vector<std::int64_t> spm_encode_ids(const fs::path& model, const std::string& line) {
  TempDir dir;
  write_text(dir / "input.txt", line + "\n");
  const CommandResult result =
      run_program("spm_encode", {"--model=" + model.string(), "--output_format=id", "--input=" + (dir / "input.txt").string()});
  EXPECT_EQ(result.exit_code, 0) << result.output;
  std::istringstream stream(result.output);
  std::vector<std::int64_t> ids;
  for (std::int64_t id; stream >> id;) ids.push_back(id);
  return ids;
}

std::vector<std::int64_t> concat(std::initializer_list<std::vector<std::int64_t>> parts) {
  std::vector<std::int64_t> all;
  for (const auto& part : parts) all.insert(all.end(), part.begin(), part.end());
  return all;
}

std::string pieces_text(const Tokenizer& tokenizer, const std::vector<std::int64_t>& ids) {
  std::string text;
  for (const std::int64_t id : ids) text += tokenizer.id_to_piece(id);
  return text;
}

const std::string kSpace = "\xE2\x96\x81";  // "▁"

TEST(TextTokenizer, TrainedModelHasLlamaLayout) {
  const auto tokenizer = trained_tokenizer();
  EXPECT_EQ(tokenizer->vocab_size(), 400);
  EXPECT_EQ(tokenizer->unk_id(), 0);
  EXPECT_EQ(tokenizer->bos_id(), 1);
  EXPECT_EQ(tokenizer->eos_id(), 2);
  EXPECT_FALSE(tokenizer->pad_id().has_value());
  EXPECT_EQ(tokenizer->id_to_piece(0), "<unk>");
  EXPECT_EQ(tokenizer->id_to_piece(1), "<s>");
  EXPECT_EQ(tokenizer->id_to_piece(2), "</s>");
  EXPECT_EQ(tokenizer->token_to_id("</s>"), std::optional<std::int64_t>(2));
  EXPECT_EQ(tokenizer->token_to_id("<0x0A>"), std::optional<std::int64_t>(3 + 0x0A));
  EXPECT_FALSE(tokenizer->token_to_id("no such piece").has_value());
  EXPECT_TRUE(tokenizer->is_special(0));
  EXPECT_TRUE(tokenizer->is_special(2));
  EXPECT_FALSE(tokenizer->is_special(3 + 0x0A));
  EXPECT_FALSE(tokenizer->is_special(399));
  EXPECT_THROW(tokenizer->id_to_piece(400), std::out_of_range);
  EXPECT_FALSE(tokenizer->config().legacy);  // written by train_sentencepiece
}

TEST(TextTokenizer, HeldOutTextRoundTripsExactly) {
  const auto tokenizer = trained_tokenizer();
  const std::string texts[] = {
      "The quiet sailor found 1234 lanterns, didn't he? Yes!",
      "Caf\xC3\xA9 au lait costs 3.50; na\xC3\xAFve (really) \"quotes\".",
      "Two lines:\nthe second one\n\nand a blank one before it.",
      "Spaces  kept   as\tthey are  ",
  };
  for (const std::string& text : texts) {
    const auto ids = tokenizer->encode(text);
    EXPECT_EQ(tokenizer->decode(ids), text) << text;
    EXPECT_EQ(tokenizer->decode_continuation(tokenizer->encode_continuation(text)), text) << text;
  }
}

TEST(TextTokenizer, NewlineAndAccentUseBytePieces) {
  const auto tokenizer = trained_tokenizer();
  const std::int64_t newline = *tokenizer->token_to_id("<0x0A>");
  const auto ids = tokenizer->encode("a\nb");
  EXPECT_EQ(std::count(ids.begin(), ids.end(), newline), 1);
  EXPECT_EQ(tokenizer->decode({newline}), "\n");
  const auto accent = tokenizer->encode_continuation("\xC3\xA9");
  EXPECT_EQ(accent, (std::vector<std::int64_t>{*tokenizer->token_to_id("<0xC3>"), *tokenizer->token_to_id("<0xA9>")}));
  EXPECT_EQ(tokenizer->decode(accent), "\xC3\xA9");
}

TEST(TextTokenizer, IdsEqualSpmEncode) {
  const auto tokenizer = trained_tokenizer();
  const fs::path model = trained_tokenizer_dir() / "tokenizer.model";
  for (const std::string line : {"The old sailor opened the wooden door at dawn.", "On day 12, 40 loaves; caf\xC3\xA9!",
                                 "  leading spaces and trailing  ", "x"}) {
    const auto expected = spm_encode_ids(model, line);
    ASSERT_FALSE(expected.empty());
    EXPECT_EQ(tokenizer->encode(line), expected) << line;
  }
}

TEST(TextTokenizer, SpecialTokenStringsBecomeTheirIds) {
  const auto tokenizer = trained_tokenizer();
  const auto ids = tokenizer->encode_with_special_tokens("<s>The old sailor</s>");
  ASSERT_GE(ids.size(), 3u);
  EXPECT_EQ(ids.front(), tokenizer->bos_id());
  EXPECT_EQ(ids.back(), tokenizer->eos_id());
  const std::vector<std::int64_t> middle(ids.begin() + 1, ids.end() - 1);
  EXPECT_EQ(middle, tokenizer->encode_continuation("The old sailor"));
  EXPECT_EQ(pieces_text(*tokenizer, middle), "The" + kSpace + "old" + kSpace + "sailor");
  // Plain encode treats the same string as characters: no EOS id anywhere.
  const auto plain = tokenizer->encode("The old sailor</s>");
  EXPECT_EQ(std::count(plain.begin(), plain.end(), tokenizer->eos_id()), 0);
  EXPECT_EQ(tokenizer->decode(plain), "The old sailor</s>");
  // Decoding drops special ids unless asked to keep them.
  EXPECT_EQ(tokenizer->decode(ids), "The old sailor");
  EXPECT_EQ(tokenizer->decode(ids, /*skip_special_tokens=*/false), "<s>The old sailor</s>");
}

TEST(TextTokenizer, NonLegacyGivesNoDummyPrefixAfterSpecialTokens) {
  const auto tokenizer = trained_tokenizer();  // legacy=false
  ASSERT_FALSE(tokenizer->config().legacy);
  const fs::path model = trained_tokenizer_dir() / "tokenizer.model";
  const std::int64_t eos = tokenizer->eos_id();
  // The start of the text gets "▁", as SentencePiece's dummy prefix would.
  const auto ids = tokenizer->encode_with_special_tokens("Hello</s>there");
  const auto hello = spm_encode_ids(model, "Hello");
  ASSERT_GT(ids.size(), hello.size() + 1);
  EXPECT_EQ(std::vector<std::int64_t>(ids.begin(), ids.begin() + static_cast<std::ptrdiff_t>(hello.size())), hello);
  EXPECT_EQ(ids[hello.size()], eos);
  // After the special token: exactly "there", no "▁".
  const std::vector<std::int64_t> after(ids.begin() + static_cast<std::ptrdiff_t>(hello.size()) + 1, ids.end());
  EXPECT_EQ(pieces_text(*tokenizer, after), "there");
  // A real space after a special token stays one "▁": the same ids as SentencePiece's "there".
  EXPECT_EQ(tokenizer->encode_with_special_tokens("</s> there"), concat({{eos}, spm_encode_ids(model, "there")}));
  // A text that starts with a special token gets no stray "▁" before it.
  EXPECT_EQ(tokenizer->encode_with_special_tokens("</s>there"), concat({{eos}, after}));
  EXPECT_EQ(tokenizer->decode(tokenizer->encode_with_special_tokens("Hi </s> there"), false), "Hi </s> there");
}

TEST(TextTokenizer, LegacyEncodesEveryChunkWithDummyPrefix) {
  TempDir dir;
  const auto tokenizer = tokenizer_with_config(dir, R"({"legacy": true})");
  ASSERT_TRUE(tokenizer->config().legacy);
  const fs::path model = dir / "tokenizer.model";
  const std::int64_t eos = tokenizer->eos_id();
  EXPECT_EQ(tokenizer->encode_with_special_tokens("Hello</s>there"),
            concat({spm_encode_ids(model, "Hello"), {eos}, spm_encode_ids(model, "there")}));
  // The chunk " there" gets a second "▁" from the dummy prefix: it differs from non-legacy.
  const auto legacy_ids = tokenizer->encode_with_special_tokens("</s> there");
  EXPECT_EQ(pieces_text(*tokenizer, legacy_ids), "</s>" + kSpace + kSpace + "there");
  EXPECT_NE(legacy_ids, trained_tokenizer()->encode_with_special_tokens("</s> there"));
  // Absent `legacy` means legacy, as in transformers.
  TempDir other;
  EXPECT_TRUE(tokenizer_with_config(other, R"({"add_bos_token": true})")->config().legacy);
}

TEST(TextTokenizer, ContinuationHasNoDummyPrefix) {
  const auto tokenizer = trained_tokenizer();
  const auto joined = tokenizer->encode_continuation("sailor");
  EXPECT_EQ(pieces_text(*tokenizer, joined), "sailor");
  const auto spaced = tokenizer->encode_continuation(" sailor");
  EXPECT_EQ(spaced, tokenizer->encode("sailor"));
  EXPECT_EQ(tokenizer->decode(spaced), "sailor");               // as transformers' decode
  EXPECT_EQ(tokenizer->decode_continuation(spaced), " sailor");  // as a continuation
}

TEST(TextTokenizer, AddedTokensFromConfigExtendTheVocabulary) {
  TempDir dir;
  const auto tokenizer = tokenizer_with_config(dir, R"({
    "legacy": false,
    "added_tokens_decoder": {
      "400": {"content": "<|extra|>", "special": true, "lstrip": false, "rstrip": false},
      "401": {"content": "<tool>", "special": false}
    }})");
  EXPECT_EQ(tokenizer->vocab_size(), 402);
  EXPECT_EQ(tokenizer->token_to_id("<|extra|>"), std::optional<std::int64_t>(400));
  EXPECT_EQ(tokenizer->id_to_piece(401), "<tool>");
  EXPECT_TRUE(tokenizer->is_special(400));
  EXPECT_FALSE(tokenizer->is_special(401));
  const auto ids = tokenizer->encode_with_special_tokens("a<|extra|>b<tool>");
  EXPECT_EQ(std::count(ids.begin(), ids.end(), 400), 1);
  EXPECT_EQ(ids.back(), 401);
  EXPECT_EQ(tokenizer->decode(ids), "ab<tool>");
  EXPECT_EQ(tokenizer->decode(ids, false), "a<|extra|>b<tool>");
}

TEST(TextTokenizer, ConfigTokensOverrideModelSpecials) {
  TempDir dir;
  const auto tokenizer = tokenizer_with_config(dir, R"({"pad_token": "<unk>", "eos_token": {"content": "</s>"}})");
  EXPECT_EQ(tokenizer->pad_id(), std::optional<std::int64_t>(0));
  EXPECT_EQ(tokenizer->eos_id(), 2);
}

TEST(TextTokenizer, TrainingIsDeterministic) {
  TempDir dir;
  write_text(dir / "corpus.txt", tokenizer_training_text());
  train_sentencepiece({dir / "corpus.txt"}, 400, dir / "a" / "tokenizer.model");
  train_sentencepiece({dir / "corpus.txt"}, 400, dir / "b" / "tokenizer.model");
  const std::string first = read_text(dir / "a" / "tokenizer.model");
  EXPECT_TRUE(first == read_text(dir / "b" / "tokenizer.model"));  // not EXPECT_EQ: binary dumps are unreadable
  EXPECT_EQ(first.find(dir.path().string()), std::string::npos);   // no temporary path recorded
  EXPECT_EQ(read_text(dir / "a" / "tokenizer_config.json"), read_text(dir / "b" / "tokenizer_config.json"));
  std::set<std::string> written;
  for (const auto& entry : fs::directory_iterator(dir / "a")) written.insert(entry.path().filename().string());
  EXPECT_EQ(written, (std::set<std::string>{"special_tokens_map.json", "tokenizer.model", "tokenizer_config.json"}));
}

TEST(TextTokenizer, BpeModelRoundTrips) {
  TempDir dir;
  write_text(dir / "corpus.txt", tokenizer_training_text());
  SentencePieceTrainingOptions options;
  options.model_type = "bpe";
  const auto result = train_sentencepiece({dir / "corpus.txt"}, 350, dir / "bpe.model", options);
  EXPECT_EQ(result.vocab_size, 350);
  EXPECT_EQ(result.byte_pieces, 256);
  const auto tokenizer = load_tokenizer(dir / "bpe.model");
  const std::string text = "The small dog watched 17 trains.\nCaf\xC3\xA9!";
  EXPECT_EQ(tokenizer->decode(tokenizer->encode(text)), text);
}

TEST(TextTokenizer, TrainingErrorsAreInputErrors) {
  TempDir dir;
  try {
    train_sentencepiece({dir / "missing.txt"}, 400, dir / "tokenizer.model");
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("missing.txt"), std::string::npos) << e.what();
  }
  write_text(dir / "tiny.txt", "just a few words\n");
  try {
    train_sentencepiece({dir / "tiny.txt"}, 5000, dir / "tokenizer.model");
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("Vocabulary size too high"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(dir / "tokenizer.model"));
}

TEST(TextTokenizer, LoadErrorsNameTheFile) {
  TempDir dir;
  auto message_of = [](const fs::path& path) {
    try {
      load_tokenizer(path);
    } catch (const InputError& e) {
      return std::string(e.what());
    }
    return std::string("no InputError");
  };
  EXPECT_NE(message_of(dir.path()).find((dir / "tokenizer.model").string()), std::string::npos);
  write_text(dir / "tokenizer.model", "this is not a protobuf message at all");
  EXPECT_NE(message_of(dir.path()).find((dir / "tokenizer.model").string() + ": "), std::string::npos);
  TempDir with_config;
  fs::copy_file(trained_tokenizer_dir() / "tokenizer.model", with_config / "tokenizer.model");
  write_text(with_config / "tokenizer_config.json", "{\"legacy\": ");
  EXPECT_NE(message_of(with_config.path()).find("tokenizer_config.json: invalid JSON"), std::string::npos);
  write_text(with_config / "tokenizer_config.json", R"({"legacy": "yes"})");
  EXPECT_NE(message_of(with_config.path()).find("tokenizer_config.json: legacy: must be true or false"),
            std::string::npos);
}

TEST(TextTokenizer, LoadsFromModelFileOrDirectory) {
  const auto from_dir = trained_tokenizer();
  const auto from_file = load_tokenizer(trained_tokenizer_dir() / "tokenizer.model");
  EXPECT_EQ(from_dir->encode("the green hills"), from_file->encode("the green hills"));
  EXPECT_EQ(from_file->model_path(), trained_tokenizer_dir() / "tokenizer.model");
  EXPECT_EQ(from_file->config().path, trained_tokenizer_dir() / "tokenizer_config.json");
}

}  // namespace
}  // namespace selm::test

namespace selm::test {
namespace SELM_UNITY_ID {

// SentencePiece's embedded protobuf and LibTorch's libprotobuf must not meet: the tokenizer
// runs in the same process as tensors, before and after them.
TEST(TextTokenizer, WorksInAProcessUsingLibTorch) {
  const torch::Tensor before = torch::arange(6, torch::kFloat32).reshape({2, 3});
  const auto tokenizer = load_tokenizer(trained_tokenizer_dir());
  const auto ids = tokenizer->encode("the green hills");
  const torch::Tensor id_tensor = torch::tensor(ids, torch::kInt64);
  EXPECT_EQ(id_tensor.size(0), static_cast<std::int64_t>(ids.size()));
  EXPECT_EQ(tokenizer->decode(std::vector<std::int64_t>(id_tensor.data_ptr<std::int64_t>(),
                                                        id_tensor.data_ptr<std::int64_t>() + id_tensor.size(0))),
            "the green hills");
  EXPECT_FLOAT_EQ(torch::matmul(before, before.t()).sum().item<float>(), 5.0f + 14.0f + 14.0f + 50.0f);
}

}  // namespace
}  // namespace selm::test
