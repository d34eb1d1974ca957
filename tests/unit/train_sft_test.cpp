// SFT examples, batches and loss: masks, truncation, packing, and the loss against a plain full
// forward pass of the committed tiny model (tests/data/hf/selm_tiny, zephyr template).
#include <gtest/gtest.h>

#include <cmath>

#include <torch/torch.h>

#include "selm/model/language_model.hpp"
#include "selm/train/sft_trainer.hpp"
#include "support/test_support.hpp"

namespace selm {
namespace SELM_UNITY_ID {

LanguageModel& tiny_model() {
  static LanguageModel lm = load_language_model(test::test_data_dir() / "hf" / "selm_tiny", ModelSettings{},
                                                TokenizerSettings{});
  return lm;
}

SftRecord chat_record(const std::string& prompt, const std::string& response) {
  SftRecord record;
  record.prompt = {ChatMessage{"user", prompt}};
  record.response = response;
  return record;
}

SftRecord text_record(const std::string& text) {
  SftRecord record;
  record.response = text;
  record.is_text = true;
  return record;
}

// The masked mean NLL computed by hand: log_softmax of the full (B, T, V) logits, gathered at
// every position whose next id is a loss token.
double masked_mean_nll_by_hand(LlamaForCausalLM& model, const std::vector<SftExample>& examples,
                               std::int64_t pad_id) {
  torch::NoGradGuard no_grad;
  std::size_t width = 0;
  for (const auto& example : examples) width = std::max(width, example.input_ids.size());
  const auto rows = static_cast<std::int64_t>(examples.size());
  torch::Tensor ids = torch::full({rows, static_cast<std::int64_t>(width)}, pad_id, torch::kInt64);
  torch::Tensor mask = torch::zeros({rows, static_cast<std::int64_t>(width)}, torch::kInt64);
  for (std::int64_t row = 0; row < rows; ++row) {
    const auto& input_ids = examples[static_cast<std::size_t>(row)].input_ids;
    for (std::size_t t = 0; t < input_ids.size(); ++t) {
      ids[row][static_cast<std::int64_t>(t)] = input_ids[t];
      mask[row][static_cast<std::int64_t>(t)] = 1;
    }
  }
  const torch::Tensor log_probs = torch::log_softmax(model->forward(ids, mask).to(torch::kFloat64), -1);
  double total = 0;
  int count = 0;
  for (std::int64_t row = 0; row < rows; ++row) {
    const SftExample& example = examples[static_cast<std::size_t>(row)];
    for (std::size_t t = 1; t < example.input_ids.size(); ++t) {
      if (example.loss_mask[t] == 0) continue;
      total -= log_probs[row][static_cast<std::int64_t>(t - 1)][example.input_ids[t]].item<double>();
      ++count;
    }
  }
  return total / count;
}

TEST(SftExamples, PromptResponseRecordsTrainOnTheResponseOnly) {
  const ChatFormatter& formatter = *tiny_model().formatter;
  const SftRecord record = chat_record("Tell me about the sea", "The sea is wide and deep.");
  const SftExample example = make_sft_example(record, formatter, 512, 256);
  const auto prompt_ids = formatter.encode_prompt(record.prompt);
  const auto response_ids = formatter.encode_response(record.response);
  ASSERT_EQ(example.input_ids.size(), prompt_ids.size() + response_ids.size());
  EXPECT_EQ(std::vector<std::int64_t>(example.input_ids.begin(), example.input_ids.begin() + prompt_ids.size()),
            prompt_ids);
  EXPECT_EQ(example.input_ids.front(), formatter.tokenizer().bos_id());
  EXPECT_EQ(example.input_ids.back(), formatter.tokenizer().eos_id());
  for (std::size_t t = 0; t < example.loss_mask.size(); ++t) {
    EXPECT_EQ(example.loss_mask[t], t < prompt_ids.size() ? 0 : 1) << t;
  }
}

TEST(SftExamples, TextRecordsTrainOnEveryTokenAfterBos) {
  const ChatFormatter& formatter = *tiny_model().formatter;
  const Tokenizer& tokenizer = formatter.tokenizer();
  const SftExample example = make_sft_example(text_record("The old sailor walked home."), formatter, 512, 256);
  std::vector<std::int64_t> expected = {tokenizer.bos_id()};
  for (std::int64_t id : tokenizer.encode("The old sailor walked home.")) expected.push_back(id);
  expected.push_back(tokenizer.eos_id());
  EXPECT_EQ(example.input_ids, expected);
  ASSERT_EQ(example.loss_mask.size(), expected.size());
  EXPECT_EQ(example.loss_mask[0], 0);
  for (std::size_t t = 1; t < expected.size(); ++t) EXPECT_EQ(example.loss_mask[t], 1) << t;
}

TEST(SftExamples, TruncationKeepsBosThePromptTailAndTheResponseHead) {
  const ChatFormatter& formatter = *tiny_model().formatter;
  const SftRecord record = chat_record("one two three four five six seven eight nine ten eleven twelve",
                                       "alpha beta gamma delta epsilon zeta eta theta iota kappa");
  const auto prompt_ids = formatter.encode_prompt(record.prompt);
  const auto response_ids = formatter.encode_response(record.response);
  ASSERT_GT(prompt_ids.size(), 8u);
  ASSERT_GT(response_ids.size(), 6u);
  const SftExample example = make_sft_example(record, formatter, 14, 8);
  ASSERT_EQ(example.input_ids.size(), 14u);
  EXPECT_EQ(example.input_ids[0], formatter.tokenizer().bos_id());
  for (std::size_t t = 1; t < 8; ++t) EXPECT_EQ(example.input_ids[t], prompt_ids[prompt_ids.size() - 8 + t]) << t;
  for (std::size_t t = 8; t < 14; ++t) {
    EXPECT_EQ(example.input_ids[t], response_ids[t - 8]) << t;
    EXPECT_EQ(example.loss_mask[t], 1);
  }
  EXPECT_EQ(std::count(example.loss_mask.begin(), example.loss_mask.end(), 1), 6);

  const SftExample text = make_sft_example(text_record(record.response + " " + record.response), formatter, 5, 2);
  EXPECT_EQ(text.input_ids.size(), 5u);
}

TEST(SftBatches, CollateRightPadsAndShiftsLabels) {
  SftExample a{{1, 10, 11, 12}, {0, 0, 1, 1}, 1};
  SftExample b{{1, 20}, {0, 1}, 2};
  const SftBatch batch = collate_sft_batch({&a, &b}, 7);
  EXPECT_TRUE(torch::equal(batch.input_ids, torch::tensor({1, 10, 11, 12, 1, 20, 7, 7}, torch::kInt64).view({2, 4})));
  EXPECT_TRUE(torch::equal(batch.attention_mask, torch::tensor({1, 1, 1, 1, 1, 1, 0, 0}, torch::kInt64).view({2, 4})));
  const std::int64_t x = kIgnoreLabel;
  const std::vector<std::int64_t> expected_labels = {x, 11, 12, x, 20, x, x, x};
  EXPECT_TRUE(torch::equal(batch.labels, torch::tensor(expected_labels, torch::kInt64).view({2, 4})));
  EXPECT_EQ(batch.num_tokens, 6);
  EXPECT_EQ(batch.num_loss_tokens, 3);
}

TEST(SftBatches, PackingConcatenatesWholeExamplesWithoutCrossExampleTargets) {
  std::vector<SftExample> examples = {
      {{1, 10, 11}, {0, 1, 1}, 1}, {{1, 20, 21, 22}, {0, 0, 1, 1}, 2}, {{1, 30}, {0, 1}, 3}, {{1, 40, 41}, {0, 1, 1}, 4}};
  const std::vector<SftExample> rows = pack_sft_examples(examples, 8);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].input_ids, (std::vector<std::int64_t>{1, 10, 11, 1, 20, 21, 22}));
  EXPECT_EQ(rows[0].loss_mask, (std::vector<std::uint8_t>{0, 1, 1, 0, 0, 1, 1}));
  EXPECT_EQ(rows[1].input_ids, (std::vector<std::int64_t>{1, 30, 1, 40, 41}));
  EXPECT_EQ(rows[1].loss_mask, (std::vector<std::uint8_t>{0, 1, 0, 1, 1}));
  // The boundary id (the next example's BOS) is never a label.
  const SftBatch batch = collate_sft_batch({&rows[0]}, 0);
  EXPECT_EQ(batch.labels[0][2].item<std::int64_t>(), kIgnoreLabel);
  EXPECT_EQ(batch.num_loss_tokens, 4);
  EXPECT_THROW(pack_sft_examples(examples, 3), std::invalid_argument);
}

TEST(SftLoss, EqualsTheMaskedMeanNllOfAFullForwardPass) {
  LanguageModel& lm = tiny_model();
  const ChatFormatter& formatter = *lm.formatter;
  const std::vector<SftExample> examples = {
      make_sft_example(chat_record("Where is the harbour?", "Down the hill, past the mill."), formatter, 128, 64),
      make_sft_example(chat_record("Hi", "Hello there, friend."), formatter, 128, 64),
      make_sft_example(text_record("A quiet child found a shell."), formatter, 128, 64)};
  std::vector<const SftExample*> members;
  for (const auto& example : examples) members.push_back(&example);
  const std::int64_t pad_id = sft_pad_id(*lm.tokenizer);
  const SftBatch batch = collate_sft_batch(members, pad_id);
  const SftLoss loss = sft_loss(lm.model, batch);
  const double expected = masked_mean_nll_by_hand(lm.model, examples, pad_id);
  EXPECT_NEAR(loss.mean_nll.item<double>(), expected, 1e-5);
  EXPECT_GT(expected, 1.0);  // a random-ish tiny model: far from zero loss
  EXPECT_EQ(loss.num_loss_tokens, batch.num_loss_tokens);
  // Prompt tokens are excluded: the same examples with the prompt in the loss give another value.
  std::vector<SftExample> all_tokens = examples;
  for (auto& example : all_tokens) {
    std::fill(example.loss_mask.begin() + 1, example.loss_mask.end(), 1);
  }
  EXPECT_GT(std::abs(masked_mean_nll_by_hand(lm.model, all_tokens, pad_id) - expected), 1e-3);

  // The loss has gradients, and evaluate_sft reports the same token-weighted value.
  loss.mean_nll.backward();
  EXPECT_TRUE(lm.model->lm_head->weight.grad().defined());
  EXPECT_GT(lm.model->lm_head->weight.grad().abs().sum().item<double>(), 0.0);
  lm.model->zero_grad();
  const SftEvaluation evaluation = evaluate_sft(lm.model, examples, 2, pad_id);
  EXPECT_NEAR(evaluation.mean_nll, expected, 1e-5);
  EXPECT_NEAR(evaluation.perplexity, std::exp(expected), 1e-4 * std::exp(expected));
  EXPECT_EQ(evaluation.num_loss_tokens, batch.num_loss_tokens);
  EXPECT_EQ(evaluation.num_examples, 3);
}

}  // namespace
}  // namespace selm
