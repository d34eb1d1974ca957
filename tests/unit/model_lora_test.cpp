// LoRA adapters on the Llama's projections: PEFT's initialisation (the adapted model starts as
// the base model, exactly), adapters off = the base model exactly, merging = the unmerged
// forward, which parameters train, and their count in closed form.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <string>
#include <vector>

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include "selm/model/llama.hpp"
#include "selm/model/llama_checkpoint.hpp"
#include "selm/model/lora.hpp"
#include "selm/model/projection.hpp"
#include "selm/util/error.hpp"
#include "support/lora_test_model.hpp"
#include "support/test_support.hpp"

namespace selm {
namespace SELM_UNITY_ID {

using test::lora_test_config;

LlamaRuntimeOptions lora_options(std::int64_t rank, double alpha, std::vector<std::string> targets) {
  return test::lora_test_options(rank, alpha, std::move(targets));
}

// The base model's weights copied into the adapted one (its adapters keep their values).
void copy_base_weights(LlamaForCausalLM& base, LlamaForCausalLM& adapted) {
  torch::NoGradGuard no_grad;
  auto adapted_parameters = adapted->named_parameters();
  for (const auto& item : base->named_parameters()) adapted_parameters[item.key()].copy_(item.value());
}

struct Batch {
  torch::Tensor input_ids;       // (2, 7)
  torch::Tensor attention_mask;  // (2, 7), the second row left-padded
};

Batch test_batch() {
  torch::manual_seed(99);
  Batch batch{torch::randint(0, 61, {2, 7}, torch::kInt64), torch::ones({2, 7}, torch::kInt64)};
  batch.attention_mask[1].narrow(0, 0, 2).zero_();
  return batch;
}

torch::Tensor logits_of(LlamaForCausalLM& model, const Batch& batch) {
  torch::NoGradGuard no_grad;
  return model->forward(batch.input_ids, batch.attention_mask);
}

// Sets every B to random values, as training would move it away from 0.
void perturb_adapters(LlamaForCausalLM& model) {
  torch::NoGradGuard no_grad;
  torch::manual_seed(3);
  for (auto& [name, projection] : adapted_projections(*model)) projection->lora_B_weight.normal_(0.0, 0.1);
}

const std::vector<std::string> kAllTargets = {"q_proj",    "k_proj",  "v_proj",    "o_proj",
                                              "gate_proj", "up_proj", "down_proj", "lm_head"};

TEST(ModelLora, AdaptersAreRegisteredAfterTheWeightUnderPeftNames) {
  LlamaForCausalLM model(lora_test_config(), lora_options(4, 8, {"q_proj", "v_proj"}));
  std::vector<std::string> names;
  for (const auto& item : model->named_parameters()) {
    if (item.key().rfind("model.layers.0.self_attn.", 0) == 0) names.push_back(item.key());
  }
  EXPECT_EQ(names, (std::vector<std::string>{
                       "model.layers.0.self_attn.q_proj.weight", "model.layers.0.self_attn.q_proj.lora_A.weight",
                       "model.layers.0.self_attn.q_proj.lora_B.weight", "model.layers.0.self_attn.k_proj.weight",
                       "model.layers.0.self_attn.v_proj.weight", "model.layers.0.self_attn.v_proj.lora_A.weight",
                       "model.layers.0.self_attn.v_proj.lora_B.weight", "model.layers.0.self_attn.o_proj.weight"}));
  const auto parameters = model->named_parameters();
  EXPECT_EQ(parameters["model.layers.1.self_attn.q_proj.lora_A.weight"].sizes().vec(), (std::vector<std::int64_t>{4, 32}));
  EXPECT_EQ(parameters["model.layers.1.self_attn.v_proj.lora_B.weight"].sizes().vec(), (std::vector<std::int64_t>{16, 4}));
}

TEST(ModelLora, AdaptersDrawNothingFromTheGlobalGenerator) {
  // The base weights of a seeded model are the same with and without adapters.
  torch::manual_seed(11);
  LlamaForCausalLM base(lora_test_config());
  torch::manual_seed(11);
  LlamaForCausalLM adapted(lora_test_config(), lora_options(4, 8, kAllTargets));
  auto adapted_parameters = adapted->named_parameters();
  for (const auto& item : base->named_parameters()) {
    EXPECT_TRUE(torch::equal(item.value(), adapted_parameters[item.key()])) << item.key();
  }
}

TEST(ModelLora, InitialisedAsPeftTheAdaptedModelIsTheBaseModelExactly) {
  torch::manual_seed(5);
  LlamaForCausalLM base(lora_test_config());
  LlamaForCausalLM adapted(lora_test_config(), lora_options(4, 16, kAllTargets));
  copy_base_weights(base, adapted);
  for (auto& [name, projection] : adapted_projections(*adapted)) {
    // kaiming_uniform_(a = sqrt(5)) on (r, in): uniform in +-sqrt(6 / ((1 + 5) * in)) = +-1/sqrt(in).
    const double bound = 1.0 / std::sqrt(static_cast<double>(projection->in_features()));
    EXPECT_LE(projection->lora_A_weight.abs().max().item<double>(), bound) << name;
    EXPECT_GT(projection->lora_A_weight.abs().max().item<double>(), 0.5 * bound) << name;
    EXPECT_EQ(projection->lora_B_weight.count_nonzero().item<std::int64_t>(), 0) << name;
    EXPECT_DOUBLE_EQ(projection->adapter_scaling(), 16.0 / 4.0) << name;
  }
  const Batch batch = test_batch();
  EXPECT_TRUE(torch::equal(logits_of(adapted, batch), logits_of(base, batch)));
  // The decode path (one row through matrix-vector products) too.
  KVCache base_cache = base->make_kv_cache(1, 4), adapted_cache = adapted->make_kv_cache(1, 4);
  const auto one_token = batch.input_ids.narrow(0, 0, 1).narrow(1, 0, 1);
  const auto mask = torch::ones({1, 1}, torch::kInt64);
  torch::NoGradGuard no_grad;
  EXPECT_TRUE(torch::equal(adapted->forward(one_token, mask, {}, &adapted_cache),
                           base->forward(one_token, mask, {}, &base_cache)));
}

TEST(ModelLora, TheSameSeedDrawsTheSameAdapters) {
  LlamaForCausalLM first(lora_test_config(), lora_options(4, 8, kAllTargets));
  torch::manual_seed(12345);  // the global generator does not matter
  LlamaForCausalLM second(lora_test_config(), lora_options(4, 8, kAllTargets));
  const auto a = adapted_projections(*first), b = adapted_projections(*second);
  ASSERT_EQ(a.size(), 2u * 7u + 1u);
  for (std::size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(torch::equal(a[i].second->lora_A_weight, b[i].second->lora_A_weight));
  // Layers draw different values (one generator in module order, not one seed per module).
  EXPECT_FALSE(torch::equal(a[0].second->lora_A_weight, a[7].second->lora_A_weight));
}

TEST(ModelLora, AdaptersOffGiveTheBaseModelsLogitsExactly) {
  torch::manual_seed(5);
  LlamaForCausalLM base(lora_test_config());
  LlamaForCausalLM adapted(lora_test_config(), lora_options(4, 8, kAllTargets));
  copy_base_weights(base, adapted);
  perturb_adapters(adapted);
  const Batch batch = test_batch();
  const torch::Tensor base_logits = logits_of(base, batch);
  const torch::Tensor adapted_logits = logits_of(adapted, batch);
  EXPECT_GT((adapted_logits - base_logits).abs().max().item<double>(), 1e-3);
  {
    AdaptersDisabled off(*adapted);
    EXPECT_TRUE(torch::equal(logits_of(adapted, batch), base_logits));
    // Log-probs, the reference's quantity, likewise.
    EXPECT_TRUE(torch::equal(torch::log_softmax(logits_of(adapted, batch), -1), torch::log_softmax(base_logits, -1)));
  }
  EXPECT_TRUE(torch::equal(logits_of(adapted, batch), adapted_logits));  // restored on exit
  set_adapters_enabled(*adapted, false);
  {
    AdaptersDisabled off(*adapted);
  }
  EXPECT_TRUE(torch::equal(logits_of(adapted, batch), base_logits));  // restores "off" too
}

// The forward pass computes x W^T + (alpha / r) B A x: checked against the matrices directly.
TEST(ModelLora, ProjectionAddsTheScaledLowRankTerm) {
  LoraAdapterSpec spec;
  spec.rank = 3;
  spec.alpha = 6;
  Projection projection(5, 4, &spec);
  at::Generator generator = at::detail::createCPUGenerator(1);
  projection->reset_adapter(generator);
  torch::NoGradGuard no_grad;
  projection->lora_B_weight.normal_();
  const torch::Tensor x = torch::randn({2, 5});
  const torch::Tensor expected = x.mm(projection->weight.t()) +
                                 2.0 * x.mm(projection->lora_A_weight.t()).mm(projection->lora_B_weight.t());
  EXPECT_TRUE(torch::allclose(projection->forward(x), expected, 0.0, 1e-6));
  const torch::Tensor row = torch::randn({5});
  const torch::Tensor expected_row = projection->weight.mv(row) +
                                     2.0 * projection->lora_B_weight.mv(projection->lora_A_weight.mv(row));
  EXPECT_TRUE(torch::allclose(projection->forward(row), expected_row, 0.0, 1e-6));
}

TEST(ModelLora, DropoutActsOnTheAdapterInputInTrainingOnly) {
  LoraAdapterSpec spec;
  spec.rank = 2;
  spec.dropout = 0.5;
  Projection projection(16, 8, &spec);
  at::Generator generator = at::detail::createCPUGenerator(1);
  projection->reset_adapter(generator);
  torch::NoGradGuard no_grad;
  projection->lora_B_weight.normal_();
  const torch::Tensor x = torch::randn({4, 16});
  projection->eval();
  const torch::Tensor evaluated = projection->forward(x);
  projection->train();
  torch::manual_seed(1);
  const torch::Tensor first = projection->forward(x);
  torch::manual_seed(1);
  EXPECT_TRUE(torch::equal(projection->forward(x), first));  // drawn from torch's generator
  EXPECT_FALSE(torch::allclose(first, evaluated));
  projection->set_adapter_enabled(false);
  EXPECT_TRUE(torch::equal(projection->forward(x), x.mm(projection->weight.t())));
}

// A few AdamW steps on the adapters, then merging: the merged model computes what the unmerged
// one did (up to float32 rounding), and its adapters start afresh.
TEST(ModelLora, TheMergedModelComputesTheUnmergedForward) {
  torch::manual_seed(5);
  LlamaForCausalLM model(lora_test_config(), lora_options(4, 8, {"q_proj", "v_proj", "down_proj", "lm_head"}));
  std::map<std::string, torch::Tensor> base_before;
  for (const auto& item : model->named_parameters()) {
    if (!is_lora_parameter_name(item.key())) base_before[item.key()] = item.value().clone();
  }
  std::vector<torch::Tensor> trainable;
  for (const auto& parameter : model->parameters()) {
    if (parameter.requires_grad()) trainable.push_back(parameter);
  }
  torch::optim::AdamW optimizer(trainable, torch::optim::AdamWOptions(1e-2));
  const Batch batch = test_batch();
  model->train();
  for (int step = 0; step < 5; ++step) {
    optimizer.zero_grad();
    const auto logits = model->forward(batch.input_ids, batch.attention_mask);
    const auto loss = -torch::log_softmax(logits, -1).select(-1, 3).mean();
    loss.backward();
    optimizer.step();
  }
  model->eval();
  // The base weights did not move; the B factors did.
  for (const auto& item : model->named_parameters()) {
    if (!is_lora_parameter_name(item.key())) {
      EXPECT_TRUE(torch::equal(item.value(), base_before.at(item.key()))) << item.key();
    }
  }
  for (auto& [name, projection] : adapted_projections(*model)) {
    EXPECT_GT(projection->lora_B_weight.abs().max().item<double>(), 1e-3) << name;
  }
  const torch::Tensor unmerged = logits_of(model, batch);
  // Independently: each adapted weight becomes W + (alpha / r) B A.
  std::map<std::string, torch::Tensor> expected_weights;
  for (auto& [name, projection] : adapted_projections(*model)) {
    expected_weights[name] = projection->weight + 2.0 * projection->lora_B_weight.mm(projection->lora_A_weight);
  }
  merge_lora_adapters(*model, 7);
  for (auto& [name, projection] : adapted_projections(*model)) {
    EXPECT_TRUE(torch::allclose(projection->weight, expected_weights.at(name), 0.0, 1e-6)) << name;
    EXPECT_EQ(projection->lora_B_weight.count_nonzero().item<std::int64_t>(), 0) << name;
  }
  EXPECT_TRUE(torch::allclose(logits_of(model, batch), unmerged, 0.0, 1e-5));
}

TEST(ModelLora, TheTrainableParametersAreTheAdaptersInClosedForm) {
  // r * (in + out) per adapted projection and layer; 2 layers (see lora_test_config).
  struct Case {
    std::vector<std::string> targets;
    std::int64_t rank;
    std::int64_t expected;
  };
  const std::vector<Case> cases = {
      {{"q_proj", "v_proj"}, 8, 2 * (8 * (32 + 32) + 8 * (32 + 16))},                        // 1792
      {{"k_proj"}, 1, 2 * (1 * (32 + 16))},                                                   // 96
      {{"gate_proj", "up_proj", "down_proj"}, 4, 2 * (4 * (32 + 48) * 2 + 4 * (48 + 32))},   // 1920
      {kAllTargets, 2,
       2 * 2 * ((32 + 32) + (32 + 16) + (32 + 16) + (32 + 32) + (32 + 48) + (32 + 48) + (48 + 32)) +
           2 * (32 + 61)},                                                                    // 2042
  };
  for (const auto& [targets, rank, expected] : cases) {
    LlamaForCausalLM model(lora_test_config(), lora_options(rank, 8, targets));
    EXPECT_EQ(trainable_parameter_count(*model), expected) << targets.front() << " r " << rank;
    for (const auto& item : model->named_parameters()) {
      EXPECT_EQ(item.value().requires_grad(), is_lora_parameter_name(item.key())) << item.key();
    }
  }
  // Without adapters everything trains.
  LlamaForCausalLM plain(lora_test_config());
  std::int64_t total = 0;
  for (const auto& parameter : plain->parameters()) total += parameter.numel();
  EXPECT_EQ(trainable_parameter_count(*plain), total);
}

TEST(ModelLora, AllLinearIsEveryDecoderProjectionAndTargetsAreChecked) {
  EXPECT_EQ(resolve_lora_targets({"all-linear"}, "k"),
            (std::vector<std::string>{"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"}));
  EXPECT_EQ(resolve_lora_targets({"v_proj", "q_proj"}, "k"), (std::vector<std::string>{"q_proj", "v_proj"}));
  EXPECT_EQ(test::input_error_of([] { resolve_lora_targets({"x_proj"}, "train.lora.target_modules"); }),
            "key 'train.lora.target_modules': unknown module 'x_proj' (known: q_proj, k_proj, v_proj, o_proj, "
            "gate_proj, up_proj, down_proj, lm_head, or all-linear)");
  EXPECT_EQ(test::input_error_of([] { resolve_lora_targets({"all-linear", "lm_head"}, "k"); }),
            "key 'k': all-linear must be the only entry");
  EXPECT_EQ(test::input_error_of([] { resolve_lora_targets({"q_proj", "q_proj"}, "k"); }),
            "key 'k': 'q_proj' is listed twice");
  LlamaConfig tied = lora_test_config();
  tied.tie_word_embeddings = true;
  EXPECT_EQ(test::input_error_of([&] { LlamaForCausalLM model(tied, lora_options(2, 8, {"lm_head"})); }),
            "LoRA target 'lm_head': the model ties its embeddings (tie_word_embeddings), so it has no lm_head");
}

// The plain directory of an adapted model holds the merged weights and no adapter tensor; the
// checkpoint form keeps both and restores the model exactly.
TEST(ModelLora, SavedDirectoriesMergeOrKeepTheAdapters) {
  test::TempDir dir;
  torch::manual_seed(5);
  LlamaForCausalLM adapted(lora_test_config(), lora_options(4, 8, {"q_proj", "o_proj"}));
  perturb_adapters(adapted);
  const Batch batch = test_batch();
  const torch::Tensor adapted_logits = logits_of(adapted, batch);

  save_llama(adapted, dir.path() / "plain");
  LlamaForCausalLM plain = load_llama(dir.path() / "plain", Placement{});
  for (const auto& item : plain->named_parameters()) EXPECT_FALSE(is_lora_parameter_name(item.key())) << item.key();
  EXPECT_TRUE(torch::allclose(logits_of(plain, batch), adapted_logits, 0.0, 1e-5));
  const std::string missing =
      test::input_error_of([&] { load_llama_weights(adapted, dir.path() / "plain", AdapterWeights::alongside); });
  EXPECT_NE(missing.find("missing tensor 'model.layers.0.self_attn.q_proj.lora_A.weight'"), std::string::npos) << missing;

  save_llama(adapted, dir.path() / "checkpoint", kDefaultMaxShardBytes, AdapterWeights::alongside);
  LlamaForCausalLM restored(lora_test_config(), lora_options(4, 8, {"q_proj", "o_proj"}));
  load_llama_weights(restored, dir.path() / "checkpoint", AdapterWeights::alongside);
  EXPECT_TRUE(torch::equal(logits_of(restored, batch), adapted_logits));
}

}  // namespace
}  // namespace selm
