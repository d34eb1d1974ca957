#include <gtest/gtest.h>

#include <torch/torch.h>

#include "selm/model/llama_checkpoint.hpp"
#include "selm/util/error.hpp"
#include "support/test_support.hpp"

namespace selm {
namespace SELM_UNITY_ID {

LlamaConfig tiny_config(bool tied) {
  LlamaConfig config;
  config.vocab_size = 61;
  config.hidden_size = 32;
  config.intermediate_size = 48;
  config.num_hidden_layers = 2;
  config.num_attention_heads = 4;
  config.num_key_value_heads = 2;
  config.tie_word_embeddings = tied;
  config.initializer_range = 0.2;
  return config;
}

void expect_same_parameters(LlamaForCausalLM& a, LlamaForCausalLM& b) {
  auto pa = a->named_parameters();
  auto pb = b->named_parameters();
  ASSERT_EQ(pa.size(), pb.size());
  for (const auto& item : pa) {
    ASSERT_TRUE(pb.contains(item.key())) << item.key();
    EXPECT_TRUE(torch::equal(item.value(), pb[item.key()])) << item.key();
  }
}

TEST(ModelCheckpoint, SaveThenLoadIsBitExactAndGivesTheSameLogits) {
  for (bool tied : {false, true}) {
    test::TempDir dir;
    torch::manual_seed(7);
    LlamaForCausalLM model(tiny_config(tied));
    save_llama(model, dir.path());
    EXPECT_TRUE(fs::exists(dir / "config.json"));
    EXPECT_TRUE(fs::exists(dir / "model.safetensors"));
    EXPECT_TRUE(fs::exists(dir / "generation_config.json"));
    LlamaForCausalLM loaded = load_llama(dir.path(), Placement{torch::kCPU, torch::kFloat32});
    expect_same_parameters(model, loaded);
    auto ids = torch::tensor({{1, 5, 9, 33, 60}}, torch::kInt64);
    auto mask = torch::ones_like(ids);
    torch::NoGradGuard no_grad;
    EXPECT_TRUE(torch::equal(model->forward(ids, mask), loaded->forward(ids, mask))) << "tied=" << tied;
  }
}

TEST(ModelCheckpoint, ShardedSaveLoadsTheSame) {
  test::TempDir dir;
  torch::manual_seed(3);
  LlamaForCausalLM model(tiny_config(false));
  save_llama(model, dir.path(), /*max_shard_bytes=*/8000);
  EXPECT_TRUE(fs::exists(dir / "model.safetensors.index.json"));
  EXPECT_FALSE(fs::exists(dir / "model.safetensors"));
  LlamaForCausalLM loaded = load_llama(dir.path(), Placement{torch::kCPU, torch::kFloat32});
  expect_same_parameters(model, loaded);
}

TEST(ModelCheckpoint, ShapeDisagreeingWithConfigIsAnInputError) {
  test::TempDir dir;
  torch::manual_seed(3);
  LlamaForCausalLM model(tiny_config(false));
  save_llama(model, dir.path());
  // Rewrite config.json with a different width: the stored tensors no longer fit.
  LlamaConfig wider = tiny_config(false);
  wider.hidden_size = 48;
  write_model_config(dir.path(), wider);
  try {
    load_llama(dir.path(), Placement{torch::kCPU, torch::kFloat32});
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("model.safetensors"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("disagrees with config.json"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace selm
