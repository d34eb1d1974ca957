// The model on a CUDA device against the same model on the CPU. These tests need a CUDA build of
// LibTorch and a GPU: elsewhere they skip (CTest reports them as skipped).
#include <gtest/gtest.h>

#include <torch/torch.h>
#include <torch/version.h>

#include "selm/model/llama.hpp"

namespace selm {
namespace SELM_UNITY_ID {

#define SKIP_WITHOUT_CUDA() \
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device (this build or machine has none)"

LlamaConfig gpu_test_config() {
  LlamaConfig config;
  config.vocab_size = 160;
  config.hidden_size = 64;
  config.intermediate_size = 128;
  config.num_hidden_layers = 2;
  config.num_attention_heads = 4;
  config.num_key_value_heads = 2;
  return config;
}

// Left-padded rows: the first row has 3 pads, the second none.
std::pair<torch::Tensor, torch::Tensor> padded_batch(std::int64_t vocab) {
  torch::manual_seed(11);
  const auto ids = torch::randint(3, vocab, {2, 12}, torch::kLong);
  auto mask = torch::ones({2, 12}, torch::kLong);
  mask.index_put_({0, torch::indexing::Slice(0, 3)}, 0);
  return {ids, mask};
}

TEST(CudaModel, ForwardEqualsTheCpuModels) {
  SKIP_WITHOUT_CUDA();
  torch::manual_seed(3);
  LlamaForCausalLM cpu_model(gpu_test_config());
  LlamaForCausalLM cuda_model(gpu_test_config());
  {
    torch::NoGradGuard no_grad;
    for (auto& item : cuda_model->named_parameters()) item.value().copy_(cpu_model->named_parameters()[item.key()]);
  }
  cuda_model->to(torch::kCUDA);
  const auto [ids, mask] = padded_batch(160);
  torch::NoGradGuard no_grad;
  const auto expected = cpu_model->forward(ids, mask);
  const auto actual = cuda_model->forward(ids.cuda(), mask.cuda()).cpu();
  // Real positions only: pads carry finite garbage that kernels may compute differently.
  const auto real = mask.to(torch::kBool);
  EXPECT_TRUE(torch::allclose(actual.index({real}), expected.index({real}), 1e-4, 1e-4))
      << (actual.index({real}) - expected.index({real})).abs().max().item<double>();
  EXPECT_TRUE(torch::isfinite(actual).all().item<bool>());
}

TEST(CudaModel, IncrementalDecodingEqualsTheFullForward) {
  SKIP_WITHOUT_CUDA();
  torch::manual_seed(4);
  LlamaForCausalLM model(gpu_test_config());
  model->to(torch::kCUDA);
  model->eval();
  torch::NoGradGuard no_grad;
  const auto [ids_cpu, mask_cpu] = padded_batch(160);
  const auto ids = ids_cpu.cuda(), mask = mask_cpu.cuda();
  const auto full = model->forward(ids, mask);  // (2, 12, V)
  KVCache cache = model->make_kv_cache(2, 12);
  const std::int64_t prompt = 8;
  auto step_logits = model->forward(ids.narrow(1, 0, prompt), mask.narrow(1, 0, prompt), {}, &cache);
  for (std::int64_t t = prompt; t < 12; ++t) {
    const auto visible = mask.narrow(1, 0, t + 1);
    step_logits = model->forward(ids.narrow(1, t, 1), visible, {}, &cache);
    EXPECT_TRUE(torch::allclose(step_logits.squeeze(1), full.select(1, t), 1e-4, 1e-4)) << "position " << t;
  }
}

#if TORCH_VERSION_MAJOR >= 2
TEST(CudaModel, FusedAttentionEqualsTheEagerKernel) {
  SKIP_WITHOUT_CUDA();
  torch::manual_seed(5);
  const auto options = torch::TensorOptions().device(torch::kCUDA);
  const auto q = torch::randn({2, 4, 6, 16}, options);
  const auto k = torch::randn({2, 2, 6, 16}, options);
  const auto v = torch::randn({2, 2, 6, 16}, options);
  auto key_mask = torch::ones({2, 6}, torch::TensorOptions().dtype(torch::kLong).device(torch::kCUDA));
  key_mask.index_put_({0, torch::indexing::Slice(0, 2)}, 0);  // row 0: two pads, whose queries see nothing
  const auto allowed = build_attention_allowed(key_mask, 6, 0);
  const auto eager = select_attention_kernel(AttentionImplementation::eager)(q, k, v, allowed);
  const auto fused = select_attention_kernel(AttentionImplementation::sdpa)(q, k, v, allowed);
  EXPECT_TRUE(torch::isfinite(fused).all().item<bool>());
  // Rows with no visible key get the uniform average of the values in both kernels.
  EXPECT_TRUE(torch::allclose(fused, eager, 1e-5, 1e-5)) << (fused - eager).abs().max().item<double>();
}
#endif

}  // namespace
}  // namespace selm
