// Response log-probs against a plain full forward pass with log_softmax, for right- and
// left-padded batches; truncation; reference log-probs computed once and reused.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include <torch/torch.h>

#include "selm/train/sequence_logps.hpp"

namespace selm {
namespace SELM_UNITY_ID {

using Ids = std::vector<std::int64_t>;

LlamaForCausalLM tiny_model(std::uint64_t seed = 7) {
  LlamaConfig config;
  config.vocab_size = 53;
  config.hidden_size = 32;
  config.intermediate_size = 64;
  config.num_hidden_layers = 2;
  config.num_attention_heads = 4;
  config.num_key_value_heads = 2;
  config.max_position_embeddings = 64;
  config.initializer_range = 0.3;  // logits vary strongly between tokens and positions
  torch::manual_seed(seed);
  LlamaForCausalLM model(config);
  model->eval();
  return model;
}

// The expected value, computed the plain way: one row at a time, unpadded, full log_softmax.
double reference_response_logp(LlamaForCausalLM& model, const Ids& prompt, const Ids& response) {
  Ids all = prompt;
  all.insert(all.end(), response.begin(), response.end());
  const auto length = static_cast<std::int64_t>(all.size());
  const auto ids = torch::tensor(all, torch::kInt64).unsqueeze(0);
  const auto logps = torch::log_softmax(model->forward(ids, torch::ones_like(ids)), -1)[0];  // (T, V)
  double total = 0;
  for (std::int64_t t = static_cast<std::int64_t>(prompt.size()); t < length; ++t) {
    total += logps[t - 1][all[static_cast<std::size_t>(t)]].item<double>();
  }
  return total;
}

struct Rows {
  std::vector<Ids> prompts{{1, 5, 9, 12}, {1, 7}, {1, 3, 3, 8, 20, 31}};
  std::vector<Ids> responses{{14, 15, 2}, {40, 41, 42, 43, 44, 2}, {6, 2}};
};

TEST(TrainSequenceLogps, RightPaddedBatchEqualsPlainForwardLogSoftmax) {
  torch::NoGradGuard no_grad;
  auto model = tiny_model();
  Rows data;
  std::vector<PromptResponse> rows;
  for (std::size_t i = 0; i < data.prompts.size(); ++i) rows.push_back({&data.prompts[i], &data.responses[i]});
  const SequenceBatch batch = build_sequence_batch(rows, /*pad_id=*/0);
  ASSERT_EQ(batch.input_ids.size(1), 8);
  EXPECT_EQ(batch.attention_mask.sum().item<std::int64_t>(), 7 + 8 + 8);
  EXPECT_EQ(batch.response_mask.sum().item<std::int64_t>(), 3 + 6 + 2);

  const SequenceLogps summed = sequence_logps(model, batch);
  const SequenceLogps averaged = sequence_logps(model, batch, /*average=*/true);
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const double expected = reference_response_logp(model, data.prompts[i], data.responses[i]);
    const auto b = static_cast<std::int64_t>(i);
    EXPECT_NEAR(summed.logps[b].item<double>(), expected, 1e-5) << "row " << i;
    EXPECT_EQ(summed.token_counts[b].item<double>(), static_cast<double>(data.responses[i].size()));
    EXPECT_NEAR(averaged.logps[b].item<double>(), expected / static_cast<double>(data.responses[i].size()), 1e-5);
    EXPECT_LT(expected, -1.0);  // a random model is far from certain: the test cannot pass by zeros
  }
}

TEST(TrainSequenceLogps, LeftPaddedBatchBuiltByHandEqualsPlainForwardLogSoftmax) {
  torch::NoGradGuard no_grad;
  auto model = tiny_model(11);
  Rows data;
  const std::int64_t batch_size = 3;
  const std::int64_t length = 8;
  auto input_ids = torch::full({batch_size, length}, 0, torch::kInt64);
  auto attention_mask = torch::zeros({batch_size, length}, torch::kInt64);
  auto response_mask = torch::zeros({batch_size, length}, torch::kBool);
  for (std::int64_t b = 0; b < batch_size; ++b) {
    Ids all = data.prompts[b];
    all.insert(all.end(), data.responses[b].begin(), data.responses[b].end());
    const std::int64_t offset = length - static_cast<std::int64_t>(all.size());
    for (std::size_t k = 0; k < all.size(); ++k) {
      const std::int64_t t = offset + static_cast<std::int64_t>(k);
      input_ids[b][t] = all[k];
      attention_mask[b][t] = 1;
      response_mask[b][t] = k >= data.prompts[b].size();
    }
  }
  const SequenceLogps result = sequence_logps(model, {input_ids, attention_mask, response_mask});
  for (std::int64_t b = 0; b < batch_size; ++b) {
    const double expected = reference_response_logp(model, data.prompts[b], data.responses[b]);
    EXPECT_NEAR(result.logps[b].item<double>(), expected, 1e-5) << "row " << b;
  }
}

TEST(TrainSequenceLogps, GradientFlowsToTheParameters) {
  auto model = tiny_model();
  Rows data;
  std::vector<PromptResponse> rows{{&data.prompts[0], &data.responses[0]}};
  const SequenceLogps result = sequence_logps(model, build_sequence_batch(rows, 0));
  result.logps.sum().backward();
  double norm = 0;
  for (const auto& parameter : model->parameters()) {
    if (parameter.grad().defined()) norm += parameter.grad().norm().item<double>();
  }
  EXPECT_GT(norm, 0.0);
}

TEST(TrainSequenceLogps, TruncatesThePromptFromTheLeftAndTheResponseToFit) {
  Ids prompt{1, 2, 3, 4, 5, 6};
  Ids response{10, 11, 12, 13, 14};
  truncate_prompt_response(prompt, response, /*max_length=*/7, /*max_prompt_length=*/4);
  EXPECT_EQ(prompt, (Ids{3, 4, 5, 6}));
  EXPECT_EQ(response, (Ids{10, 11, 12}));
  // A prompt limit at or above max_length still leaves one response token.
  Ids long_prompt{1, 2, 3, 4, 5};
  Ids other{9, 8};
  truncate_prompt_response(long_prompt, other, 4, 10);
  EXPECT_EQ(long_prompt, (Ids{3, 4, 5}));
  EXPECT_EQ(other, (Ids{9}));
}

TEST(TrainSequenceLogps, ReferenceLogpsAreComputedOnceInBatchesAndCachedValuesKept) {
  auto model = tiny_model(3);
  std::vector<TokenizedPreference> examples(3);
  examples[0] = {{1, 4}, {5, 6, 2}, {7, 2}, {8, 9, 10, 2}, false};
  examples[1] = {{1, 4, 4}, {11, 2}, {12, 13, 14, 2}, {15, 2}, false};
  examples[2] = {{1}, {16, 2}, {17, 2}, {18, 2}, false};
  std::vector<PreferenceRecord> records(3);
  records[2].reference_logps = ReferenceLogps{-1.5, -2.5, -3.5};  // cached: kept as is
  std::vector<std::optional<double>> generation{std::nullopt, -0.25, -9.0};
  compute_reference_logps(model, records, examples, /*batch_size=*/2, 0, false, true, generation);

  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(records[i].reference_logps.has_value());
    EXPECT_NEAR(records[i].reference_logps->chosen,
                reference_response_logp(model, examples[i].prompt, examples[i].chosen), 1e-5);
    EXPECT_NEAR(records[i].reference_logps->rejected,
                reference_response_logp(model, examples[i].prompt, examples[i].rejected), 1e-5);
  }
  EXPECT_NEAR(*records[0].reference_logps->reference_response,
              reference_response_logp(model, examples[0].prompt, examples[0].reference_response), 1e-5);
  EXPECT_EQ(*records[1].reference_logps->reference_response, -0.25);  // recorded at generation time
  EXPECT_EQ(records[2].reference_logps->chosen, -1.5);
  EXPECT_EQ(*records[2].reference_logps->reference_response, -3.5);
  EXPECT_TRUE(torch::GradMode::is_enabled());  // the no-grad guard does not leak
}

}  // namespace
}  // namespace selm
