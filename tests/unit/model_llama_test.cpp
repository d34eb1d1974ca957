// Llama model: parameter names, an independent loop-based reference forward, padding, the KV
// cache against full forwards, sliding windows and grouped-query attention.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <torch/torch.h>
#include <torch/version.h>

#include "selm/model/kv_cache.hpp"
#include "selm/model/llama.hpp"
#include "selm/model/llama_runtime_options.hpp"
#include "selm/model/projection.hpp"
#include "selm/util/error.hpp"

namespace selm {
namespace SELM_UNITY_ID {

LlamaConfig tiny_config(std::int64_t num_kv_heads = 2, std::int64_t sliding_window = 0, bool tied = false) {
  LlamaConfig config;
  config.vocab_size = 97;
  config.hidden_size = 64;
  config.intermediate_size = 96;
  config.num_hidden_layers = 2;
  config.num_attention_heads = 4;
  config.num_key_value_heads = num_kv_heads;
  config.max_position_embeddings = 64;
  config.rope_theta = 10000.0;
  config.rms_norm_eps = 1e-5;
  config.sliding_window = sliding_window;
  config.tie_word_embeddings = tied;
  // Large enough that attention patterns and logits vary strongly between positions.
  config.initializer_range = 0.2;
  return config;
}

// A seeded model whose norm weights are not all ones, so that a misplaced norm weight shows.
LlamaForCausalLM make_model(const LlamaConfig& config, std::uint64_t seed = 1234) {
  torch::manual_seed(seed);
  LlamaForCausalLM model(config);
  torch::NoGradGuard no_grad;
  for (auto& item : model->named_parameters()) {
    if (item.key().find("norm") != std::string::npos) item.value().add_(torch::randn_like(item.value()) * 0.2);
  }
  return model;
}

// ---- Independent reference: plain loops in double precision over one unpadded sequence ------

using Matrix = std::vector<std::vector<double>>;  // row-major (out, in)
using Vector = std::vector<double>;

Matrix to_matrix(const torch::Tensor& tensor) {
  const auto t = tensor.to(torch::kDouble).contiguous();
  Matrix m(static_cast<std::size_t>(t.size(0)), Vector(static_cast<std::size_t>(t.size(1))));
  auto a = t.accessor<double, 2>();
  for (std::int64_t i = 0; i < t.size(0); ++i)
    for (std::int64_t j = 0; j < t.size(1); ++j) m[static_cast<std::size_t>(i)][static_cast<std::size_t>(j)] = a[i][j];
  return m;
}

Vector to_vector(const torch::Tensor& tensor) {
  const auto t = tensor.to(torch::kDouble).contiguous();
  return Vector(t.data_ptr<double>(), t.data_ptr<double>() + t.numel());
}

Vector matvec(const Matrix& w, const Vector& x) {
  Vector y(w.size(), 0.0);
  for (std::size_t i = 0; i < w.size(); ++i)
    for (std::size_t j = 0; j < x.size(); ++j) y[i] += w[i][j] * x[j];
  return y;
}

Vector rms_norm(const Vector& x, const Vector& weight, double eps) {
  double mean_square = 0.0;
  for (double value : x) mean_square += value * value;
  mean_square /= static_cast<double>(x.size());
  Vector y(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) y[i] = weight[i] * x[i] / std::sqrt(mean_square + eps);
  return y;
}

// Rotates each head of `x` (heads * D values) for position `position`, rotate-half layout.
void rope(Vector& x, std::int64_t heads, std::int64_t head_dim, std::int64_t position, double theta) {
  const std::int64_t half = head_dim / 2;
  for (std::int64_t h = 0; h < heads; ++h) {
    for (std::int64_t i = 0; i < half; ++i) {
      const double angle = static_cast<double>(position) / std::pow(theta, 2.0 * static_cast<double>(i) / static_cast<double>(head_dim));
      const auto lo = static_cast<std::size_t>(h * head_dim + i), hi = static_cast<std::size_t>(h * head_dim + i + half);
      const double a = x[lo], b = x[hi];
      x[lo] = a * std::cos(angle) - b * std::sin(angle);
      x[hi] = b * std::cos(angle) + a * std::sin(angle);
    }
  }
}

// logits (T, V) of the sequence `tokens`, with Mistral's window when config.sliding_window > 0.
Matrix reference_logits(LlamaForCausalLM& model, const std::vector<std::int64_t>& tokens) {
  const auto& config = model->config();
  std::map<std::string, torch::Tensor> p;
  for (const auto& item : model->named_parameters()) p[item.key()] = item.value().detach();
  const std::int64_t heads = config.num_attention_heads, kv_heads = config.num_key_value_heads;
  const std::int64_t head_dim = config.resolved_head_dim();
  const auto length = tokens.size();
  const Matrix embedding = to_matrix(p.at("model.embed_tokens.weight"));
  Matrix x(length);
  for (std::size_t t = 0; t < length; ++t) x[t] = embedding[static_cast<std::size_t>(tokens[t])];

  for (std::int64_t layer = 0; layer < config.num_hidden_layers; ++layer) {
    const std::string prefix = "model.layers." + std::to_string(layer) + ".";
    const Matrix wq = to_matrix(p.at(prefix + "self_attn.q_proj.weight"));
    const Matrix wk = to_matrix(p.at(prefix + "self_attn.k_proj.weight"));
    const Matrix wv = to_matrix(p.at(prefix + "self_attn.v_proj.weight"));
    const Matrix wo = to_matrix(p.at(prefix + "self_attn.o_proj.weight"));
    const Matrix w_gate = to_matrix(p.at(prefix + "mlp.gate_proj.weight"));
    const Matrix w_up = to_matrix(p.at(prefix + "mlp.up_proj.weight"));
    const Matrix w_down = to_matrix(p.at(prefix + "mlp.down_proj.weight"));
    const Vector norm_in = to_vector(p.at(prefix + "input_layernorm.weight"));
    const Vector norm_post = to_vector(p.at(prefix + "post_attention_layernorm.weight"));

    Matrix q(length), k(length), v(length);
    for (std::size_t t = 0; t < length; ++t) {
      const Vector normed = rms_norm(x[t], norm_in, config.rms_norm_eps);
      q[t] = matvec(wq, normed);
      k[t] = matvec(wk, normed);
      v[t] = matvec(wv, normed);
      rope(q[t], heads, head_dim, static_cast<std::int64_t>(t), config.rope_theta);
      rope(k[t], kv_heads, head_dim, static_cast<std::int64_t>(t), config.rope_theta);
    }
    for (std::size_t t = 0; t < length; ++t) {
      Vector attended(static_cast<std::size_t>(heads * head_dim), 0.0);
      for (std::int64_t h = 0; h < heads; ++h) {
        const std::int64_t kv = h / (heads / kv_heads);
        std::vector<double> scores;
        std::vector<std::size_t> keys;
        for (std::size_t j = 0; j <= t; ++j) {
          if (config.sliding_window > 0 && static_cast<std::int64_t>(t - j) >= config.sliding_window) continue;
          double dot = 0.0;
          for (std::int64_t d = 0; d < head_dim; ++d)
            dot += q[t][static_cast<std::size_t>(h * head_dim + d)] * k[j][static_cast<std::size_t>(kv * head_dim + d)];
          scores.push_back(dot / std::sqrt(static_cast<double>(head_dim)));
          keys.push_back(j);
        }
        const double max_score = *std::max_element(scores.begin(), scores.end());
        double total = 0.0;
        for (double& s : scores) total += (s = std::exp(s - max_score));
        for (std::size_t n = 0; n < keys.size(); ++n)
          for (std::int64_t d = 0; d < head_dim; ++d)
            attended[static_cast<std::size_t>(h * head_dim + d)] +=
                scores[n] / total * v[keys[n]][static_cast<std::size_t>(kv * head_dim + d)];
      }
      const Vector projected = matvec(wo, attended);
      for (std::size_t i = 0; i < projected.size(); ++i) x[t][i] += projected[i];
      const Vector normed = rms_norm(x[t], norm_post, config.rms_norm_eps);
      const Vector gate = matvec(w_gate, normed), up = matvec(w_up, normed);
      Vector inner(gate.size());
      for (std::size_t i = 0; i < gate.size(); ++i) inner[i] = gate[i] / (1.0 + std::exp(-gate[i])) * up[i];
      const Vector down = matvec(w_down, inner);
      for (std::size_t i = 0; i < down.size(); ++i) x[t][i] += down[i];
    }
  }
  const Vector final_norm = to_vector(p.at("model.norm.weight"));
  const Matrix head = config.tie_word_embeddings ? embedding : to_matrix(p.at("lm_head.weight"));
  Matrix logits(length);
  for (std::size_t t = 0; t < length; ++t) logits[t] = matvec(head, rms_norm(x[t], final_norm, config.rms_norm_eps));
  return logits;
}

double max_abs_diff(const Matrix& expected, const torch::Tensor& actual) {  // actual: (T, V)
  const auto a = actual.to(torch::kDouble).contiguous();
  auto access = a.accessor<double, 2>();
  double worst = 0.0;
  for (std::size_t t = 0; t < expected.size(); ++t)
    for (std::size_t i = 0; i < expected[t].size(); ++i)
      worst = std::max(worst, std::abs(expected[t][i] - access[static_cast<std::int64_t>(t)][static_cast<std::int64_t>(i)]));
  return worst;
}

std::vector<std::int64_t> random_tokens(std::int64_t count, std::int64_t vocab) {
  const auto t = torch::randint(vocab, {count}, torch::kLong);
  return std::vector<std::int64_t>(t.data_ptr<std::int64_t>(), t.data_ptr<std::int64_t>() + count);
}

torch::Tensor row_tensor(const std::vector<std::int64_t>& tokens) {
  return torch::tensor(tokens, torch::kLong).unsqueeze(0);
}

torch::Tensor forward_alone(LlamaForCausalLM& model, const std::vector<std::int64_t>& tokens) {  // -> (T, V)
  torch::NoGradGuard no_grad;
  const auto ids = row_tensor(tokens);
  return model->forward(ids, torch::ones_like(ids)).squeeze(0);
}

// ---- Tests --------------------------------------------------------------------------------

TEST(ModelLlama, ParameterNamesAreHuggingFaceNames) {
  auto model = make_model(tiny_config());
  std::set<std::string> names;
  for (const auto& item : model->named_parameters()) names.insert(item.key());
  std::set<std::string> expected = {"model.embed_tokens.weight", "model.norm.weight", "lm_head.weight"};
  for (int layer = 0; layer < 2; ++layer) {
    const std::string prefix = "model.layers." + std::to_string(layer) + ".";
    for (const char* name : {"self_attn.q_proj.weight", "self_attn.k_proj.weight", "self_attn.v_proj.weight",
                             "self_attn.o_proj.weight", "mlp.gate_proj.weight", "mlp.up_proj.weight",
                             "mlp.down_proj.weight", "input_layernorm.weight", "post_attention_layernorm.weight"}) {
      expected.insert(prefix + name);
    }
  }
  EXPECT_EQ(names, expected);
  EXPECT_EQ(model->named_parameters().size(), expected.size());
  EXPECT_TRUE(model->named_buffers().is_empty());
  const auto params = model->named_parameters();
  EXPECT_EQ(params["model.layers.0.self_attn.q_proj.weight"].sizes(), (std::vector<std::int64_t>{64, 64}));
  EXPECT_EQ(params["model.layers.0.self_attn.k_proj.weight"].sizes(), (std::vector<std::int64_t>{32, 64}));
  EXPECT_EQ(params["model.layers.1.mlp.down_proj.weight"].sizes(), (std::vector<std::int64_t>{64, 96}));
  EXPECT_EQ(params["lm_head.weight"].sizes(), (std::vector<std::int64_t>{97, 64}));
}

TEST(ModelLlama, TiedEmbeddingsHaveOneWeight) {
  auto model = make_model(tiny_config(2, 0, /*tied=*/true));
  const auto params = model->named_parameters();
  EXPECT_EQ(params.find("lm_head.weight"), nullptr);
  EXPECT_EQ(params.size(), 2u + 2u * 9u);  // embed_tokens, norm + 9 per layer
  // The reference projects with the embedding matrix when tied: the logits must match it.
  const std::vector<std::int64_t> tokens = {3, 14, 15, 92, 6};
  const auto logits = forward_alone(model, tokens);
  const auto reference = reference_logits(model, tokens);
  EXPECT_LE(max_abs_diff(reference, logits), 1e-4);
}

TEST(ModelLlama, RandomInitFollowsConfigAndSeed) {
  auto config = tiny_config();
  config.initializer_range = 0.05;
  torch::manual_seed(7);
  LlamaForCausalLM first(config);
  torch::manual_seed(7);
  LlamaForCausalLM second(config);
  const auto a = first->named_parameters(), b = second->named_parameters();
  for (const auto& item : a) EXPECT_TRUE(torch::equal(item.value(), b[item.key()])) << item.key();
  EXPECT_TRUE(torch::equal(a["model.norm.weight"], torch::ones({64})));
  EXPECT_TRUE(torch::equal(a["model.layers.1.input_layernorm.weight"], torch::ones({64})));
  const auto std_dev = a["model.layers.0.mlp.up_proj.weight"].std().item<double>();
  EXPECT_NEAR(std_dev, 0.05, 0.005);
  EXPECT_NEAR(a["model.embed_tokens.weight"].mean().item<double>(), 0.0, 0.005);
}

TEST(ModelLlama, RejectsInconsistentConfig) {
  auto config = tiny_config();
  config.num_key_value_heads = 3;
  EXPECT_THROW(LlamaForCausalLM{config}, InputError);
  config = tiny_config();
  config.vocab_size = 0;
  EXPECT_THROW(LlamaForCausalLM{config}, InputError);
}

class ModelLlamaReference : public ::testing::TestWithParam<std::tuple<std::int64_t, std::int64_t>> {};

// The module equals a loop-by-loop Llama written from the formulas (full, GQA, MQA, window).
TEST_P(ModelLlamaReference, MatchesLoopReference) {
  const auto [kv_heads, window] = GetParam();
  auto model = make_model(tiny_config(kv_heads, window));
  torch::manual_seed(99);
  const auto tokens = random_tokens(11, 97);
  const auto logits = forward_alone(model, tokens);
  const auto reference = reference_logits(model, tokens);
  EXPECT_LE(max_abs_diff(reference, logits), 1e-4);
  // The logits are far from uniform: the comparison is not trivially small.
  EXPECT_GT(logits.std().item<double>(), 0.3);
}

INSTANTIATE_TEST_SUITE_P(Variants, ModelLlamaReference,
                         ::testing::Values(std::make_tuple(std::int64_t{4}, std::int64_t{0}),
                                           std::make_tuple(std::int64_t{2}, std::int64_t{0}),
                                           std::make_tuple(std::int64_t{1}, std::int64_t{0}),
                                           std::make_tuple(std::int64_t{2}, std::int64_t{4})));

TEST(ModelLlama, SlidingWindowChangesLogitsOnlyBeyondTheWindow) {
  auto full = make_model(tiny_config(2, 0));
  auto windowed = make_model(tiny_config(2, 4));  // same seed, same weights
  torch::manual_seed(5);
  const auto tokens = random_tokens(10, 97);
  const auto a = forward_alone(full, tokens), b = forward_alone(windowed, tokens);
  // Positions 0..3 see at most 4 keys: identical; later ones differ.
  EXPECT_LE((a.narrow(0, 0, 4) - b.narrow(0, 0, 4)).abs().max().item<double>(), 1e-5);
  EXPECT_GT((a.narrow(0, 4, 6) - b.narrow(0, 4, 6)).abs().max().item<double>(), 1e-2);
}

TEST(ModelLlama, AttentionMaskEncodesCausalityPaddingAndWindow) {
  // One row, slots: pad, pad, r0, r1, r2, r3 (positions 0..3); two new queries = slots 4, 5.
  const auto mask = torch::tensor({0, 0, 1, 1, 1, 1}, torch::kLong).unsqueeze(0);
  const auto allowed = build_attention_allowed(mask, 2, 2).squeeze(0).squeeze(0);  // (2, 6)
  const auto expected = torch::tensor({0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 1, 1}, torch::kLong).view({2, 6}).to(torch::kBool);
  EXPECT_TRUE(torch::equal(allowed, expected)) << allowed;
  const auto no_window = build_attention_allowed(mask, 2, 0).squeeze(0).squeeze(0);
  const auto expected_full = torch::tensor({0, 0, 1, 1, 1, 0, 0, 0, 1, 1, 1, 1}, torch::kLong).view({2, 6}).to(torch::kBool);
  EXPECT_TRUE(torch::equal(no_window, expected_full)) << no_window;
  const auto positions = position_ids_from_mask(mask, 6);
  EXPECT_TRUE(torch::equal(positions, torch::tensor({0, 0, 0, 1, 2, 3}, torch::kLong).unsqueeze(0)));
}

// Full forwards over left-padded and right-padded batches give each row's unpadded logits at
// its real positions, and no NaN anywhere (pad queries included).
TEST(ModelLlama, PaddedRowsMatchUnpaddedRows) {
  auto model = make_model(tiny_config());
  torch::manual_seed(11);
  const std::vector<std::vector<std::int64_t>> prompts = {random_tokens(6, 97), random_tokens(3, 97), random_tokens(1, 97)};
  for (const bool left : {true, false}) {
    auto ids = torch::full({3, 6}, 0, torch::kLong);
    auto mask = torch::zeros({3, 6}, torch::kLong);
    for (int row = 0; row < 3; ++row) {
      const auto length = static_cast<std::int64_t>(prompts[static_cast<std::size_t>(row)].size());
      const std::int64_t offset = left ? 6 - length : 0;
      ids[row].narrow(0, offset, length).copy_(torch::tensor(prompts[static_cast<std::size_t>(row)], torch::kLong));
      mask[row].narrow(0, offset, length).fill_(1);
    }
    torch::NoGradGuard no_grad;
    const auto logits = model->forward(ids, mask);  // (3, 6, V)
    EXPECT_FALSE(logits.isnan().any().item<bool>());
    for (int row = 0; row < 3; ++row) {
      const auto& prompt = prompts[static_cast<std::size_t>(row)];
      const auto length = static_cast<std::int64_t>(prompt.size());
      const auto alone = forward_alone(model, prompt);
      const auto padded = logits[row].narrow(0, left ? 6 - length : 0, length);
      EXPECT_LE((alone - padded).abs().max().item<double>(), 1e-4) << (left ? "left" : "right") << " row " << row;
    }
  }
}

// Prefill + one-token steps with the cache equal full forwards over the same prefix, at every
// step, for a batch of a left-padded row, a row padded between prompt and continuation (right
// padding of the prompt), and an unpadded row; and each row equals its tokens alone.
void check_cache_against_full_forward(const LlamaConfig& config) {
  auto model = make_model(config);
  torch::manual_seed(21);
  const std::int64_t width = 7, steps = 5, rows = 3;
  const std::vector<std::int64_t> lengths = {4, 3, 7};
  auto prompt_ids = torch::randint(97, {rows, width}, torch::kLong);
  auto prompt_mask = torch::zeros({rows, width}, torch::kLong);
  prompt_mask[0].narrow(0, 3, 4).fill_(1);  // left padded
  prompt_mask[1].narrow(0, 0, 3).fill_(1);  // right padded
  prompt_mask[2].fill_(1);
  const auto new_ids = torch::randint(97, {rows, steps}, torch::kLong);

  torch::NoGradGuard no_grad;
  auto cache = model->make_kv_cache(rows, width + steps);
  std::vector<torch::Tensor> incremental;  // (B, 1 or width, V) pieces
  incremental.push_back(model->forward(prompt_ids, prompt_mask, torch::Tensor(), &cache));
  auto ids = prompt_ids, mask = prompt_mask;
  for (std::int64_t step = 0; step < steps; ++step) {
    const auto token = new_ids.narrow(1, step, 1);
    ids = torch::cat({ids, token}, 1);
    mask = torch::cat({mask, torch::ones({rows, 1}, torch::kLong)}, 1);
    const auto step_logits = model->forward(token, mask, torch::Tensor(), &cache);
    incremental.push_back(step_logits);
    EXPECT_EQ(cache.length(), width + step + 1);
    // Full forward over the same prefix, last column.
    const auto full = model->forward(ids, mask);
    EXPECT_LE((full.select(1, -1) - step_logits.squeeze(1)).abs().max().item<double>(), 1e-4) << "step " << step;
  }
  const auto all = torch::cat(incremental, 1);  // (B, width + steps, V)
  EXPECT_FALSE(all.isnan().any().item<bool>());
  const auto full = model->forward(ids, mask);
  const auto real = mask.to(torch::kBool);
  for (std::int64_t row = 0; row < rows; ++row) {
    const auto columns = real[row].nonzero().squeeze(1);
    const auto diff = (all[row].index_select(0, columns) - full[row].index_select(0, columns)).abs().max();
    EXPECT_LE(diff.item<double>(), 1e-4) << "row " << row;
    const auto tokens_tensor = ids[row].index_select(0, columns);
    const std::vector<std::int64_t> tokens(tokens_tensor.data_ptr<std::int64_t>(),
                                           tokens_tensor.data_ptr<std::int64_t>() + tokens_tensor.numel());
    const auto alone = forward_alone(model, tokens);
    EXPECT_LE((alone - all[row].index_select(0, columns)).abs().max().item<double>(), 1e-4) << "row " << row;
    EXPECT_EQ(static_cast<std::int64_t>(tokens.size()), lengths[static_cast<std::size_t>(row)] + steps);
  }
}

TEST(ModelLlamaCache, IncrementalMatchesFullForward) { check_cache_against_full_forward(tiny_config(2, 0)); }
TEST(ModelLlamaCache, SingleKeyValueHead) { check_cache_against_full_forward(tiny_config(1, 0)); }
TEST(ModelLlamaCache, SlidingWindowSmallerThanSequence) { check_cache_against_full_forward(tiny_config(2, 3)); }

TEST(ModelLlamaCache, SlidingWindowCacheMatchesLoopReference) {
  auto model = make_model(tiny_config(2, 3));
  torch::manual_seed(33);
  const auto tokens = random_tokens(9, 97);
  torch::NoGradGuard no_grad;
  auto cache = model->make_kv_cache(1, 9);
  std::vector<torch::Tensor> pieces;
  const auto prompt = row_tensor(std::vector<std::int64_t>(tokens.begin(), tokens.begin() + 2));
  pieces.push_back(model->forward(prompt, torch::ones({1, 2}, torch::kLong), torch::Tensor(), &cache));
  for (std::size_t t = 2; t < tokens.size(); ++t) {
    pieces.push_back(model->forward(row_tensor({tokens[t]}), torch::ones({1, static_cast<std::int64_t>(t) + 1}, torch::kLong),
                                    torch::Tensor(), &cache));
  }
  const auto logits = torch::cat(pieces, 1).squeeze(0);
  EXPECT_LE(max_abs_diff(reference_logits(model, tokens), logits), 1e-4);
}

TEST(ModelLlamaCache, SelectRowsKeepsChosenRows) {
  auto model = make_model(tiny_config());
  torch::manual_seed(3);
  const auto ids = torch::randint(97, {3, 4}, torch::kLong);
  const auto mask = torch::ones({3, 4}, torch::kLong);
  torch::NoGradGuard no_grad;
  auto cache = model->make_kv_cache(3, 6);
  model->forward(ids, mask, torch::Tensor(), &cache);
  cache.select_rows(torch::tensor({2, 0}, torch::kLong));
  EXPECT_EQ(cache.batch_size(), 2);
  const auto next = torch::tensor({5, 6}, torch::kLong).unsqueeze(1);
  const auto step = model->forward(next, torch::ones({2, 5}, torch::kLong), torch::Tensor(), &cache);
  const auto full = model->forward(torch::cat({ids.index_select(0, torch::tensor({2, 0}, torch::kLong)), next}, 1),
                                   torch::ones({2, 5}, torch::kLong));
  EXPECT_LE((full.select(1, -1) - step.squeeze(1)).abs().max().item<double>(), 1e-4);
  // The mask must cover cached + new slots (5 + 1).
  EXPECT_THROW(model->forward(next, torch::ones({2, 5}, torch::kLong), torch::Tensor(), &cache), std::invalid_argument);
}

TEST(ModelLlama, GradientsFlowThroughTheForward) {
  auto model = make_model(tiny_config());
  const auto ids = torch::tensor({1, 2, 3, 4}, torch::kLong).unsqueeze(0);
  const auto logits = model->forward(ids, torch::ones_like(ids));
  logits.log_softmax(-1).select(2, 5).sum().backward();
  for (const auto& item : model->named_parameters()) {
    ASSERT_TRUE(item.value().grad().defined()) << item.key();
    EXPECT_GT(item.value().grad().abs().sum().item<double>(), 0.0) << item.key();
  }
}

// named_parameters() order is that of the safetensors files, the optimiser state and the
// training checkpoints: it must stay the order of registration.
TEST(ModelLlama, ParameterOrderIsRegistrationOrder) {
  auto model = make_model(tiny_config());
  std::vector<std::string> expected = {"model.embed_tokens.weight"};
  for (int layer = 0; layer < 2; ++layer) {
    const std::string prefix = "model.layers." + std::to_string(layer) + ".";
    for (const char* name : {"self_attn.q_proj.weight", "self_attn.k_proj.weight", "self_attn.v_proj.weight",
                             "self_attn.o_proj.weight", "mlp.gate_proj.weight", "mlp.up_proj.weight",
                             "mlp.down_proj.weight", "input_layernorm.weight", "post_attention_layernorm.weight"}) {
      expected.push_back(prefix + name);
    }
  }
  expected.push_back("model.norm.weight");
  expected.push_back("lm_head.weight");
  EXPECT_EQ(model->named_parameters().keys(), expected);
}

// A Projection must be indistinguishable from the bias-free torch::nn::Linear it replaced: the
// same initial weight, the same numbers drawn from the global generator (seeded models depend on
// every earlier draw), the same output bit for bit.
TEST(ModelLlamaProjection, BehavesAsBiasFreeLinear) {
  torch::manual_seed(99);
  torch::nn::Linear linear(torch::nn::LinearOptions(24, 40).bias(false));
  const auto draw_after_linear = torch::rand({8});
  torch::manual_seed(99);
  Projection projection(24, 40);
  const auto draw_after_projection = torch::rand({8});
  EXPECT_TRUE(torch::equal(projection->weight, linear->weight));
  EXPECT_TRUE(torch::equal(draw_after_projection, draw_after_linear));
  EXPECT_EQ(projection->in_features(), 24);
  EXPECT_EQ(projection->out_features(), 40);
  EXPECT_EQ(projection->named_parameters().keys(), (std::vector<std::string>{"weight"}));

  const auto x = torch::randn({3, 5, 24});
  EXPECT_TRUE(torch::equal(projection(x), linear(x)));
  const auto rows = torch::randn({7, 24});  // 2-D input: Linear's other code path
  EXPECT_TRUE(torch::equal(projection(rows), linear(rows)));
}

TEST(ModelLlamaRuntimeOptions, DefaultsAreThisBuildsKernelWithNothingElse) {
  const LlamaRuntimeOptions defaults;
  // torch's fused kernel from LibTorch 2.0 on, selm's own before.
  EXPECT_EQ(defaults.attention,
            TORCH_VERSION_MAJOR >= 2 ? AttentionImplementation::sdpa : AttentionImplementation::eager);
  EXPECT_FALSE(defaults.activation_checkpointing);
  EXPECT_FALSE(defaults.lora.has_value());
  EXPECT_EQ(select_attention_kernel(AttentionImplementation::eager), &grouped_query_attention);
  // Explicit default options build the same model as no options.
  torch::manual_seed(5);
  LlamaForCausalLM implicit(tiny_config());
  torch::manual_seed(5);
  LlamaForCausalLM explicit_defaults(tiny_config(), defaults);
  const auto a = implicit->named_parameters(), b = explicit_defaults->named_parameters();
  for (const auto& item : a) EXPECT_TRUE(torch::equal(item.value(), b[item.key()])) << item.key();
  EXPECT_EQ(explicit_defaults->runtime_options().attention, kDefaultAttention);
}

// Options declared for capabilities still to come are refused, never replaced by the default.
TEST(ModelLlamaRuntimeOptions, RefusesWhatThisBuildCannotDo) {
  const auto construction_error = [](const LlamaRuntimeOptions& options) -> std::string {
    try {
      LlamaForCausalLM model(tiny_config(), options);
    } catch (const InputError& e) {
      return e.what();
    }
    return "no error";
  };
#if TORCH_VERSION_MAJOR < 2
  LlamaRuntimeOptions sdpa;
  sdpa.attention = AttentionImplementation::sdpa;
  EXPECT_EQ(construction_error(sdpa),
            std::string("attention implementation 'sdpa' needs LibTorch 2.0 or later (this build has ") +
                TORCH_VERSION + ")");
  EXPECT_THROW(select_attention_kernel(AttentionImplementation::sdpa), std::invalid_argument);
#endif
  // LoRA is implemented (lora_test.cpp); an adapter out of range is refused.
  LlamaRuntimeOptions lora;
  lora.lora = LoraAdapterSpec{};
  lora.lora->rank = 0;
  EXPECT_EQ(construction_error(lora), "LoRA rank r must be at least 1, got 0");
}

}  // namespace
}  // namespace selm
