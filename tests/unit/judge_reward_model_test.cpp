// The reward-model judge and its model: a tiny random LlamaForSequenceClassification built from
// the backbone of make_tiny_model plus a random score head. Scores are checked against an
// independent computation with the plain causal-LM backbone.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <memory>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "selm/judge/judge_factory.hpp"
#include "selm/judge/reward_model_judge.hpp"
#include "selm/model/llama_checkpoint.hpp"
#include "selm/model/llama_reward_model.hpp"
#include "selm/model/safetensors.hpp"
#include "selm/text/chat_format.hpp"
#include "selm/text/tokenizer.hpp"
#include "selm/util/error.hpp"
#include "selm/util/files.hpp"
#include "support/test_support.hpp"

namespace selm {
namespace SELM_UNITY_ID {

const Placement cpu_float32{torch::kCPU, torch::kFloat32};

// One tiny reward model per test binary run: building the tokenizer and backbone goes through
// the selm binary and takes a few seconds.
class RewardModelFixture : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new test::TempDir();
    const std::string failure = test::make_tiny_model(dir_->path(), /*corpus_seed=*/5, /*init_seed=*/9, 0.2);
    ASSERT_EQ(failure, "") << failure;
    LlamaForCausalLM backbone = load_llama(causal_dir(), cpu_float32);
    torch::manual_seed(21);
    LlamaForSequenceClassification reward_model(backbone->config());
    {
      torch::NoGradGuard no_grad;
      auto source = backbone->named_parameters();
      for (auto& item : reward_model->named_parameters()) {
        if (item.key() == "score.weight") continue;
        item.value().copy_(source[item.key()]);
      }
      // A head large enough that distinct responses get clearly distinct scores.
      reward_model->score->weight.normal_(0.0, 1.0);
    }
    head_ = new torch::Tensor(reward_model->score->weight.detach().clone());
    save_reward_model(reward_model, reward_dir());
    for (const char* file : {"tokenizer.model", "tokenizer_config.json", "special_tokens_map.json"}) {
      fs::copy_file(causal_dir() / file, reward_dir() / file);
    }
  }
  static void TearDownTestSuite() {
    delete head_;
    delete dir_;
  }

  static fs::path causal_dir() { return dir_->path() / "model"; }
  static fs::path reward_dir() { return dir_->path() / "reward"; }
  static RewardModelJudgeConfig judge_config() {
    RewardModelJudgeConfig config;
    config.path = reward_dir().string();
    return config;
  }

  static test::TempDir* dir_;
  static torch::Tensor* head_;  // score.weight: (1, C)
};

test::TempDir* RewardModelFixture::dir_ = nullptr;
torch::Tensor* RewardModelFixture::head_ = nullptr;

// Two float32 computations of the same score that batch or pad the rows differently take
// different BLAS kernels, whose sums round differently: a few float32 ulps per layer, about
// 4e-6 of a score near 3 on some CPUs. The bound is relative to the score's size; a real
// difference (a mask or position error) moves scores by more than 1e-3.
double float32_score_tolerance(double score) { return 1e-5 * std::max(1.0, std::fabs(score)); }

const std::string kPrompt = "Tell me about the old sailor.";
const std::vector<std::string> kResponses = {"The old sailor found a bright lantern at dawn.",
                                             "A quiet child opened the wooden door.",
                                             "Again."};

// Left-pads `sequences` into ids and mask: (B, T) each.
std::pair<torch::Tensor, torch::Tensor> left_padded(const std::vector<std::vector<std::int64_t>>& sequences,
                                                    std::int64_t pad_id) {
  std::size_t width = 0;
  for (const auto& sequence : sequences) width = std::max(width, sequence.size());
  const auto rows = static_cast<std::int64_t>(sequences.size());
  torch::Tensor ids = torch::full({rows, static_cast<std::int64_t>(width)}, pad_id, torch::kInt64);
  torch::Tensor mask = torch::zeros({rows, static_cast<std::int64_t>(width)}, torch::kInt64);
  for (std::int64_t row = 0; row < rows; ++row) {
    const auto& sequence = sequences[static_cast<std::size_t>(row)];
    const auto offset = static_cast<std::int64_t>(width - sequence.size());
    for (std::size_t t = 0; t < sequence.size(); ++t) {
      ids[row][offset + static_cast<std::int64_t>(t)] = sequence[t];
      mask[row][offset + static_cast<std::int64_t>(t)] = 1;
    }
  }
  return {ids, mask};
}

TEST_F(RewardModelFixture, ScoreEqualsBackboneHiddenStateDotHead) {
  RewardModelJudge judge(judge_config());
  // The ids: the chat-formatted prompt then the response with its end-of-turn id.
  auto tokenizer = load_tokenizer(reward_dir());
  ChatFormatter formatter(*tokenizer, ChatTemplate::from_name("auto", *tokenizer));
  const std::vector<std::int64_t> prompt_ids = formatter.encode_prompt({ChatMessage{"user", kPrompt}});

  LlamaForCausalLM backbone = load_llama(causal_dir(), cpu_float32);
  torch::NoGradGuard no_grad;
  const std::vector<double> scores = judge.score(kPrompt, kResponses);
  ASSERT_EQ(scores.size(), kResponses.size());
  for (std::size_t i = 0; i < kResponses.size(); ++i) {
    std::vector<std::int64_t> expected_ids = prompt_ids;
    const std::vector<std::int64_t> response_ids = formatter.encode_response(kResponses[i]);
    expected_ids.insert(expected_ids.end(), response_ids.begin(), response_ids.end());
    ASSERT_EQ(judge.input_ids(kPrompt, kResponses[i]), expected_ids);
    EXPECT_EQ(expected_ids.back(), tokenizer->eos_id());

    const torch::Tensor ids = torch::tensor(expected_ids, torch::kInt64).unsqueeze(0);   // (1, T)
    const torch::Tensor hidden = backbone->model->forward(ids, torch::ones_like(ids));  // (1, T, C)
    const double expected = torch::dot(hidden[0][ids.size(1) - 1], (*head_)[0]).item<double>();
    EXPECT_NEAR(scores[i], expected, float32_score_tolerance(expected)) << kResponses[i];
  }
  // A random head on a random model: the three responses must not collapse to one score.
  EXPECT_GT(std::fabs(scores[0] - scores[1]), 1e-3);
  EXPECT_GT(std::fabs(scores[1] - scores[2]), 1e-3);
}

TEST_F(RewardModelFixture, LeftPaddedBatchScoresEqualOneByOneScores) {
  LlamaForSequenceClassification model = load_reward_model(reward_dir(), cpu_float32);
  RewardModelJudge judge(judge_config());
  std::vector<std::vector<std::int64_t>> sequences;
  for (const auto& response : kResponses) sequences.push_back(judge.input_ids(kPrompt, response));
  ASSERT_NE(sequences[0].size(), sequences[2].size());

  torch::NoGradGuard no_grad;
  const auto [ids, mask] = left_padded(sequences, /*pad_id=*/0);
  const torch::Tensor batched = model->forward(ids, mask);  // (3, 1)
  ASSERT_EQ(batched.sizes(), torch::IntArrayRef({3, 1}));
  for (std::size_t i = 0; i < sequences.size(); ++i) {
    const torch::Tensor alone_ids = torch::tensor(sequences[i], torch::kInt64).unsqueeze(0);
    const double alone = model->forward(alone_ids, torch::ones_like(alone_ids))[0][0].item<double>();
    EXPECT_NEAR(batched[static_cast<std::int64_t>(i)][0].item<double>(), alone, float32_score_tolerance(alone)) << i;
  }
  // The judge in batches of 1 and of 16 agrees too.
  RewardModelJudgeConfig one_at_a_time = judge_config();
  one_at_a_time.batch_size = 1;
  RewardModelJudge single(one_at_a_time);
  const std::vector<double> batched_scores = judge.score(kPrompt, kResponses);
  const std::vector<double> single_scores = single.score(kPrompt, kResponses);
  for (std::size_t i = 0; i < kResponses.size(); ++i) EXPECT_NEAR(batched_scores[i], single_scores[i], float32_score_tolerance(single_scores[i])) << i;
  EXPECT_EQ(single.stats().requests, 3);  // one forward pass per candidate
  EXPECT_EQ(judge.stats().requests, 1);
}

TEST(RewardModel, LastRealTokenFollowsTheMaskAndThePadId) {
  LlamaConfig config;
  config.vocab_size = 40;
  config.hidden_size = 16;
  config.intermediate_size = 24;
  config.num_hidden_layers = 1;
  config.num_attention_heads = 2;
  config.num_key_value_heads = 2;
  LlamaForSequenceClassification model(config);
  const torch::Tensor ids = torch::tensor({{0, 0, 5, 6, 2}, {5, 6, 7, 2, 0}}, torch::kInt64);
  const torch::Tensor mask = torch::tensor({{0, 0, 1, 1, 1}, {1, 1, 1, 1, 0}}, torch::kInt64);
  // No pad id: the mask alone decides (left padding -> last slot; right padding -> before the pad).
  EXPECT_TRUE(torch::equal(model->last_real_positions(ids, mask), torch::tensor({4, 3}, torch::kInt64)));
  // pad_token_id == eos (2): transformers skips the trailing EOS as padding, and so do we.
  config.pad_token_id = 2;
  LlamaForSequenceClassification padded_model(config);
  EXPECT_TRUE(torch::equal(padded_model->last_real_positions(ids, mask), torch::tensor({3, 2}, torch::kInt64)));
  const torch::Tensor all_pad = torch::tensor({{5, 6}}, torch::kInt64);
  EXPECT_THROW(model->last_real_positions(all_pad, torch::zeros_like(all_pad)), InputError);
}

TEST_F(RewardModelFixture, JudgeRanksByScoreAndIdenticalCandidatesTie) {
  RewardModelJudge judge(judge_config());
  const std::vector<std::string> candidates = {kResponses[0], kResponses[1], kResponses[0], kResponses[2]};
  const std::vector<double> expected_scores = judge.score(kPrompt, candidates);
  EXPECT_EQ(expected_scores[0], expected_scores[2]);

  const std::vector<Judgment> judgments =
      judge.rank({JudgeRequest{"a", kPrompt, candidates}, JudgeRequest{"b", "Say something.", {kResponses[2]}}});
  ASSERT_EQ(judgments.size(), 2u);
  const Judgment& judgment = judgments[0];
  ASSERT_TRUE(judgment.is_ok()) << judgment.reason;
  EXPECT_EQ(judgment.id, "a");
  EXPECT_EQ(judgment.judge_id, "reward_model:reward");
  EXPECT_EQ(judgment.config_hash, judge.config_hash());
  ASSERT_TRUE(judgment.scores.has_value());
  for (std::size_t i = 0; i < candidates.size(); ++i) EXPECT_NEAR((*judgment.scores)[i], expected_scores[i], 1e-5);
  EXPECT_EQ((*judgment.scores)[0], (*judgment.scores)[2]);
  EXPECT_EQ(judgment.ranks[0], judgment.ranks[2]);
  // The order sorts the scores best first.
  ASSERT_EQ(judgment.order.size(), candidates.size());
  for (std::size_t i = 1; i < judgment.order.size(); ++i) {
    EXPECT_GE((*judgment.scores)[static_cast<std::size_t>(judgment.order[i - 1])],
              (*judgment.scores)[static_cast<std::size_t>(judgment.order[i])]);
  }
  // Ranks: 1 + the number of strictly better candidates.
  for (std::size_t i = 0; i < candidates.size(); ++i) {
    std::int64_t better = 0;
    for (double other : *judgment.scores) better += other > (*judgment.scores)[i] ? 1 : 0;
    EXPECT_EQ(judgment.ranks[i], better + 1) << i;
  }
  EXPECT_TRUE(judgments[1].is_ok());
  EXPECT_EQ(judgments[1].ranks, std::vector<std::int64_t>({1}));
}

TEST_F(RewardModelFixture, SaveLoadRoundTripIsBitExactWithHuggingFaceConfig) {
  LlamaForSequenceClassification loaded = load_reward_model(reward_dir(), cpu_float32);
  EXPECT_TRUE(torch::equal(loaded->score->weight, *head_));
  test::TempDir copy;
  save_reward_model(loaded, copy.path());
  LlamaForSequenceClassification reloaded = load_reward_model(copy.path(), cpu_float32);
  auto first = loaded->named_parameters();
  auto second = reloaded->named_parameters();
  ASSERT_EQ(first.size(), second.size());
  for (const auto& item : first) EXPECT_TRUE(torch::equal(item.value(), second[item.key()])) << item.key();
  EXPECT_EQ(read_file(reward_dir() / "model.safetensors"), read_file(copy / "model.safetensors"));

  const nlohmann::json config = nlohmann::json::parse(read_file(copy / "config.json"));
  EXPECT_EQ(config["architectures"], nlohmann::json::array({"LlamaForSequenceClassification"}));
  EXPECT_EQ(config["model_type"], "llama");
  EXPECT_EQ(config["num_labels"], 1);
  EXPECT_EQ(config["id2label"], nlohmann::json({{"0", "LABEL_0"}}));
  EXPECT_EQ(config["label2id"], nlohmann::json({{"LABEL_0", 0}}));
  EXPECT_TRUE(config.contains("pad_token_id"));
  EXPECT_EQ(config["hidden_size"], 64);

  // Tensor names: the backbone's model.* exactly, plus score.weight (1, C); no lm_head.
  SafetensorsFile weights(copy / "model.safetensors");
  SafetensorsFile causal_weights(causal_dir() / "model.safetensors");
  std::vector<std::string> expected_names;
  for (const auto& name : causal_weights.names()) {
    if (name.rfind("model.", 0) == 0) expected_names.push_back(name);
  }
  expected_names.push_back("score.weight");
  std::vector<std::string> names = weights.names();
  std::sort(names.begin(), names.end());
  std::sort(expected_names.begin(), expected_names.end());
  EXPECT_EQ(names, expected_names);
  EXPECT_EQ(weights.info("score.weight").shape, std::vector<std::int64_t>({1, 64}));
}

TEST_F(RewardModelFixture, BadDirectoriesAreInputErrorsNamingTheKeyOrFile) {
  const auto expect_error_naming = [](const RewardModelJudgeConfig& config, const std::string& needle) {
    try {
      RewardModelJudge judge(config);
      ADD_FAILURE() << "no error for " << config.path;
    } catch (const InputError& error) {
      EXPECT_NE(std::string(error.what()).find(needle), std::string::npos) << error.what();
    }
  };
  RewardModelJudgeConfig config = judge_config();
  config.path = (dir_->path() / "missing").string();
  expect_error_naming(config, "judge.reward_model.path");
  config.path = "";
  expect_error_naming(config, "judge.reward_model.path");

  // A causal LM is not a reward model.
  config.path = causal_dir().string();
  expect_error_naming(config, (causal_dir() / "config.json").string() + ": key 'architectures'");

  test::TempDir broken;
  for (const auto& entry : fs::directory_iterator(reward_dir())) fs::copy_file(entry.path(), broken / entry.path().filename().string());
  config.path = broken.path().string();
  // Two labels: not a scalar reward.
  nlohmann::json model_config = nlohmann::json::parse(read_file(broken / "config.json"));
  model_config["id2label"] = {{"0", "LABEL_0"}, {"1", "LABEL_1"}};
  model_config.erase("num_labels");
  write_file_atomic(broken / "config.json", model_config.dump());
  expect_error_naming(config, (broken / "config.json").string() + ": key 'num_labels'");
  // The causal LM's weights under a reward-model config: the head is missing.
  fs::copy_file(reward_dir() / "config.json", broken / "config.json", fs::copy_options::overwrite_existing);
  fs::copy_file(causal_dir() / "model.safetensors", broken / "model.safetensors", fs::copy_options::overwrite_existing);
  expect_error_naming(config, "score.weight");
  // No weights at all.
  fs::remove(broken / "model.safetensors");
  expect_error_naming(config, "model.safetensors");
  // Through the factory too.
  JudgeConfig judge_section;
  judge_section.type = JudgeType::reward_model;
  judge_section.reward_model.path = (dir_->path() / "missing").string();
  EXPECT_THROW(make_judge(judge_section), InputError);
}

TEST_F(RewardModelFixture, ConfigHashFollowsContentNotPath) {
  RewardModelJudge judge(judge_config());
  EXPECT_EQ(judge.config_hash().size(), 16u);
  test::TempDir parent;
  const fs::path copy = parent / "copied";
  fs::create_directories(copy);
  for (const auto& entry : fs::directory_iterator(reward_dir())) fs::copy_file(entry.path(), copy / entry.path().filename());
  RewardModelJudgeConfig copied_config = judge_config();
  copied_config.path = copy.string() + "/";
  RewardModelJudge copied(copied_config);
  EXPECT_EQ(copied.config_hash(), judge.config_hash());
  EXPECT_EQ(copied.id(), "reward_model:copied");

  RewardModelJudgeConfig shorter = judge_config();
  shorter.max_length = 512;
  EXPECT_NE(RewardModelJudge(shorter).config_hash(), judge.config_hash());
  // Same architecture, same file size, different head: a different model.
  LlamaForSequenceClassification model = load_reward_model(copy, cpu_float32);
  {
    torch::NoGradGuard no_grad;
    model->score->weight.mul_(-1.0);
  }
  save_reward_model(model, copy);
  RewardModelJudge changed(copied_config);
  EXPECT_NE(changed.config_hash(), judge.config_hash());
  EXPECT_NEAR(changed.score(kPrompt, {kResponses[0]})[0], -judge.score(kPrompt, {kResponses[0]})[0], 1e-5);
}

TEST(RewardModelInput, PromptIsCutFromTheLeftKeepingItsBos) {
  const std::vector<std::int64_t> prompt = {1, 10, 11, 12, 13};
  const std::vector<std::int64_t> response = {20, 21, 2};
  EXPECT_EQ(reward_model_input_ids(prompt, response, 8, 1), std::vector<std::int64_t>({1, 10, 11, 12, 13, 20, 21, 2}));
  EXPECT_EQ(reward_model_input_ids(prompt, response, 6, 1), std::vector<std::int64_t>({1, 12, 13, 20, 21, 2}));
  EXPECT_EQ(reward_model_input_ids(prompt, response, 6, -1), std::vector<std::int64_t>({11, 12, 13, 20, 21, 2}));
  EXPECT_EQ(reward_model_input_ids(prompt, response, 4, 1), std::vector<std::int64_t>({1, 20, 21, 2}));
  // The response alone is too long: its first tokens are kept.
  EXPECT_EQ(reward_model_input_ids(prompt, response, 3, 1), std::vector<std::int64_t>({1, 20, 21}));
  EXPECT_EQ(reward_model_input_ids(prompt, response, 2, -1), std::vector<std::int64_t>({20, 21}));
}

TEST_F(RewardModelFixture, SelmJudgeCommandWritesScoredJudgments) {
  test::TempDir run;
  nlohmann::json line = {{"id", "p0"}, {"prompt", kPrompt}, {"candidates", kResponses}};
  test::write_text(run / "candidates.jsonl", line.dump() + "\n" +
                                                 nlohmann::json({{"prompt", "Say something."}, {"candidates", {"Again.", "Again."}}}).dump() + "\n");
  test::write_text(run / "judge.yaml", "judge:\n  type: reward_model\n  reward_model:\n    path: " + reward_dir().string() +
                                           "\n    batch_size: 2\n");
  const auto result = test::run_selm({"judge", "-c", (run / "judge.yaml").string(), "--in",
                                      (run / "candidates.jsonl").string(), "--out", (run / "out.jsonl").string()});
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_NE(result.output.find("ok 2, abstained 0, failed 0"), std::string::npos) << result.output;

  RewardModelJudge judge(judge_config());
  const std::vector<double> expected = judge.score(kPrompt, kResponses);
  const auto records = read_jsonl(run / "out.jsonl");
  ASSERT_EQ(records.size(), 2u);
  const nlohmann::json& first = records[0].second;
  EXPECT_EQ(first["id"], "p0");
  EXPECT_EQ(first["judge"], "reward_model:reward");
  EXPECT_EQ(first["config_hash"], judge.config_hash());
  EXPECT_EQ(first["status"], "ok");
  ASSERT_EQ(first["scores"].size(), 3u);
  for (std::size_t i = 0; i < 3; ++i) EXPECT_NEAR(first["scores"][i].get<double>(), expected[i], float32_score_tolerance(expected[i])) << i;
  std::vector<std::int64_t> expected_order = {0, 1, 2};
  std::stable_sort(expected_order.begin(), expected_order.end(),
                   [&](std::int64_t a, std::int64_t b) { return expected[static_cast<std::size_t>(a)] > expected[static_cast<std::size_t>(b)]; });
  EXPECT_EQ(first["order"], nlohmann::json(expected_order));
  EXPECT_EQ(records[1].second["ranks"], nlohmann::json({1, 1}));
}

}  // namespace
}  // namespace selm
