#include <gtest/gtest.h>

#include <map>
#include <string>

#include <torch/torch.h>

#include "selm/model/activation_checkpoint.hpp"
#include "selm/model/autocast.hpp"
#include "selm/model/llama.hpp"

namespace selm {
namespace SELM_UNITY_ID {

LlamaConfig tiny_config() {
  LlamaConfig config;
  config.vocab_size = 61;
  config.hidden_size = 32;
  config.intermediate_size = 48;
  config.num_hidden_layers = 3;
  config.num_attention_heads = 4;
  config.num_key_value_heads = 2;
  config.max_position_embeddings = 64;
  config.initializer_range = 0.2;
  return config;
}

LlamaForCausalLM seeded_model(bool checkpointing) {
  LlamaRuntimeOptions options;
  options.activation_checkpointing = checkpointing;
  torch::manual_seed(77);
  LlamaForCausalLM model(tiny_config(), options);
  model->train();
  return model;
}

// Mean next-token NLL of a right-padded batch, whose backward fills every parameter's gradient.
torch::Tensor language_model_loss(LlamaForCausalLM& model) {
  torch::manual_seed(3);
  const auto ids = torch::randint(0, tiny_config().vocab_size, {2, 12}, torch::kInt64);
  auto mask = torch::ones({2, 12}, torch::kInt64);
  mask[1].slice(0, 9).fill_(0);
  const auto logits = model->forward(ids, mask).to(torch::kFloat32);  // (B, T, V)
  const auto logps = torch::log_softmax(logits.slice(1, 0, 11), -1);
  const auto targets = ids.slice(1, 1, 12).unsqueeze(-1);
  const auto weights = mask.slice(1, 1, 12).to(torch::kFloat32);
  return -(logps.gather(-1, targets).squeeze(-1) * weights).sum() / weights.sum();
}

void backward_of_language_model_loss(LlamaForCausalLM& model) { language_model_loss(model).backward(); }

std::map<std::string, torch::Tensor> gradients_of(LlamaForCausalLM& model) {
  std::map<std::string, torch::Tensor> gradients;
  for (const auto& item : model->named_parameters()) {
    if (item.value().grad().defined()) gradients[item.key()] = item.value().grad().clone();
  }
  return gradients;
}

void expect_same_gradients(const std::map<std::string, torch::Tensor>& expected,
                           const std::map<std::string, torch::Tensor>& actual, double tolerance) {
  ASSERT_EQ(expected.size(), actual.size());
  for (const auto& [name, gradient] : expected) {
    ASSERT_TRUE(actual.count(name)) << name;
    EXPECT_GT(gradient.abs().max().item<double>(), 0.0) << name;  // a real gradient, not zeros
    const double difference = (actual.at(name) - gradient).abs().max().item<double>();
    EXPECT_LE(difference, tolerance) << name;
  }
}

TEST(ModelActivationCheckpoint, LlamaGradientsEqualThoseWithoutCheckpointing) {
  auto plain = seeded_model(false);
  auto recomputed = seeded_model(true);
  backward_of_language_model_loss(plain);
  backward_of_language_model_loss(recomputed);
  const auto expected = gradients_of(plain);
  EXPECT_EQ(expected.size(), plain->parameters().size());
  expect_same_gradients(expected, gradients_of(recomputed), 1e-6);
}

TEST(ModelActivationCheckpoint, LayersBehindAFrozenEmbeddingStillGetTheirGradients) {
  // Without trainable weights below it, a layer's input needs no gradient; the layer's own
  // parameters must still get theirs.
  auto plain = seeded_model(false);
  auto recomputed = seeded_model(true);
  for (auto* model : {&plain, &recomputed}) (*model)->model->embed_tokens->weight.set_requires_grad(false);
  backward_of_language_model_loss(plain);
  backward_of_language_model_loss(recomputed);
  const auto expected = gradients_of(plain);
  EXPECT_EQ(expected.size(), plain->parameters().size() - 1);
  expect_same_gradients(expected, gradients_of(recomputed), 1e-6);
}

TEST(ModelActivationCheckpoint, AutocastIsReplayedInTheRecomputation) {
  // Recomputed in float32 instead of bfloat16, the gradients would differ by about 1e-3.
  auto plain = seeded_model(false);
  auto recomputed = seeded_model(true);
  for (auto* model : {&plain, &recomputed}) {
    torch::Tensor loss;
    {
      const AutocastScope autocast(c10::DeviceType::CPU, torch::kBFloat16, /*enabled=*/true);
      loss = language_model_loss(*model);
    }
    loss.backward();  // outside autocast, as training runs it: the recomputation must restore it
  }
  expect_same_gradients(gradients_of(plain), gradients_of(recomputed), 1e-6);
}

TEST(ModelActivationCheckpoint, EvalAndNoGradPassesRunPlainly) {
  auto plain = seeded_model(false);
  auto recomputed = seeded_model(true);
  const auto ids = torch::randint(0, tiny_config().vocab_size, {2, 9}, torch::kInt64);
  const auto mask = torch::ones({2, 9}, torch::kInt64);
  torch::NoGradGuard no_grad;
  EXPECT_TRUE(torch::equal(plain->forward(ids, mask), recomputed->forward(ids, mask)));
  // A cached pass (generation) is never recomputed either.
  KVCache cache = recomputed->make_kv_cache(2, 9);
  const auto cached = recomputed->forward(ids, mask, position_ids_from_mask(mask, 9), &cache);
  EXPECT_LE((cached - plain->forward(ids, mask)).abs().max().item<double>(), 1e-5);
}

// A function with randomness inside: the recomputation must draw the same dropout mask.
torch::Tensor dropout_function(const torch::Tensor& x, const torch::Tensor& weight) {
  return torch::dropout(torch::tanh(torch::matmul(x, weight)), /*p=*/0.5, /*train=*/true);
}

struct DropoutRun {
  torch::Tensor output, input_grad, weight_grad, next_draw;
};

DropoutRun run_dropout(bool checkpoint) {
  torch::manual_seed(11);
  const auto x = torch::randn({6, 8}).requires_grad_(true);
  const auto weight = torch::randn({8, 8}).requires_grad_(true);
  const auto coefficients = torch::randn({6, 8});
  torch::manual_seed(500);  // the dropout's draws
  const torch::Tensor output =
      checkpoint ? checkpointed([&](const torch::Tensor& input) { return dropout_function(input, weight); }, x, {weight})
                 : dropout_function(x, weight);
  (output * coefficients).sum().backward();
  // The generator continues after backward as if nothing had been recomputed.
  return {output.detach(), x.grad(), weight.grad(), torch::rand({4})};
}

TEST(ModelActivationCheckpoint, RandomnessInsideIsReplayedAndTheGeneratorContinuesUnchanged) {
  const DropoutRun plain = run_dropout(false);
  const DropoutRun recomputed = run_dropout(true);
  // Dropout zeroes about half: a mask drawn anew would move most gradients.
  EXPECT_GT((plain.output == 0).sum().item<std::int64_t>(), 10);
  EXPECT_TRUE(torch::equal(plain.output, recomputed.output));
  EXPECT_LE((plain.input_grad - recomputed.input_grad).abs().max().item<double>(), 1e-6);
  EXPECT_LE((plain.weight_grad - recomputed.weight_grad).abs().max().item<double>(), 1e-6);
  EXPECT_GT(plain.weight_grad.abs().max().item<double>(), 0.0);
  EXPECT_TRUE(torch::equal(plain.next_draw, recomputed.next_draw));
}

}  // namespace
}  // namespace selm
