// Golden tests against Hugging Face transformers, which is not needed at test time: the
// fixtures in tests/data/hf were made once by scripts/dev/hf_crosscheck.py on a machine with
// transformers (its version is recorded in selm_tiny_expected.json).
//   hf_made/<name>/    checkpoints written by transformers' save_pretrained (Llama with GQA,
//                      tied Llama stored in bfloat16, Mistral with a sliding window, a sharded
//                      Llama) and the logits transformers computes for them;
//   selm_tiny/         a model directory written by `selm init` (tokenizer from `selm tokenizer
//                      train`, zephyr chat template); selm_tiny_expected.json holds what
//                      transformers computes after loading it unchanged: logits, token ids of
//                      texts with special tokens, and the rendered chat conversation.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "selm/model/language_model.hpp"
#include "selm/model/llama_checkpoint.hpp"
#include "support/test_support.hpp"

namespace selm {
namespace SELM_UNITY_ID {

const fs::path kFixtures = test::test_data_dir() / "hf";

nlohmann::json read_json(const fs::path& path) { return nlohmann::json::parse(test::read_text(path)); }

// Max |selm logits - expected logits| over every position of every sequence.
double max_logit_difference(LlamaForCausalLM& model, const nlohmann::json& expected) {
  torch::NoGradGuard no_grad;
  double worst = 0.0;
  const auto& sequences = expected.at("input_ids");
  for (std::size_t s = 0; s < sequences.size(); ++s) {
    const auto ids_vector = sequences[s].get<std::vector<std::int64_t>>();
    const auto ids = torch::tensor(ids_vector, torch::kInt64).unsqueeze(0);
    const auto logits = model->forward(ids, torch::ones_like(ids))[0].to(torch::kFloat64);  // (T, V)
    const auto rows = expected.at("logits")[s].get<std::vector<std::vector<double>>>();
    EXPECT_EQ(static_cast<std::int64_t>(rows.size()), logits.size(0));
    for (std::size_t t = 0; t < rows.size(); ++t) {
      const auto reference = torch::tensor(rows[t], torch::kFloat64);
      EXPECT_EQ(reference.size(0), logits.size(1));
      worst = std::max(worst, (logits[static_cast<std::int64_t>(t)] - reference).abs().max().item<double>());
    }
  }
  return worst;
}

TEST(ModelHfGolden, TransformersCheckpointsGiveTransformersLogits) {
  int checked = 0;
  for (const auto& entry : fs::directory_iterator(kFixtures / "hf_made")) {
    SCOPED_TRACE(entry.path().filename().string());
    LlamaForCausalLM model = load_llama(entry.path(), Placement{torch::kCPU, torch::kFloat32});
    const auto expected = read_json(entry.path() / "expected.json");
    const double difference = max_logit_difference(model, expected);
    EXPECT_LE(difference, 1e-4);
    ++checked;
  }
  EXPECT_EQ(checked, 4);
}

TEST(ModelHfGolden, FixturesCoverTheFeaturesThatMatter) {
  // Guards against a fixture regenerated without the case it exists for.
  EXPECT_EQ(read_model_config(kFixtures / "hf_made" / "mistral_window").sliding_window, 4);
  EXPECT_EQ(read_model_config(kFixtures / "hf_made" / "mistral_window").model_type, "mistral");
  EXPECT_TRUE(read_model_config(kFixtures / "hf_made" / "llama_tied_bf16").tie_word_embeddings);
  EXPECT_EQ(read_model_config(kFixtures / "hf_made" / "llama_tied_bf16").torch_dtype, "bfloat16");
  EXPECT_TRUE(fs::exists(kFixtures / "hf_made" / "llama_sharded" / "model.safetensors.index.json"));
  EXPECT_EQ(read_model_config(kFixtures / "hf_made" / "llama_gqa").num_key_value_heads, 2);
}

TEST(ModelHfGolden, SelmSavedModelLoadsInTransformersWithTheSameLogits) {
  LlamaForCausalLM model = load_llama(kFixtures / "selm_tiny", Placement{torch::kCPU, torch::kFloat32});
  const auto expected = read_json(kFixtures / "selm_tiny_expected.json");
  EXPECT_LE(max_logit_difference(model, expected), 1e-4);
}

TEST(ModelHfGolden, TokenizerAndChatTemplateAgreeWithTransformers) {
  ModelSettings model_settings;
  TokenizerSettings tokenizer_settings;  // chat_template auto: read from tokenizer_config.json
  LanguageModel lm = load_language_model(kFixtures / "selm_tiny", model_settings, tokenizer_settings);
  const auto expected = read_json(kFixtures / "selm_tiny_expected.json");
  const auto texts = expected.at("texts").get<std::vector<std::string>>();
  const auto ids = expected.at("text_ids_with_special").get<std::vector<std::vector<std::int64_t>>>();
  ASSERT_EQ(texts.size(), ids.size());
  for (std::size_t i = 0; i < texts.size(); ++i) {
    // transformers' tokenizer(text) adds BOS and parses special tokens.
    std::vector<std::int64_t> ours = {lm.tokenizer->bos_id()};
    const auto body = lm.tokenizer->encode_with_special_tokens(texts[i]);
    ours.insert(ours.end(), body.begin(), body.end());
    EXPECT_EQ(ours, ids[i]) << "text: '" << texts[i] << "'";
  }
  std::vector<ChatMessage> conversation;
  for (const auto& message : expected.at("conversation")) {
    conversation.push_back({message.at("role").get<std::string>(), message.at("content").get<std::string>()});
  }
  EXPECT_EQ(lm.formatter->chat_template().name(), "zephyr");
  EXPECT_EQ(lm.formatter->render_prompt(conversation), expected.at("chat_text").get<std::string>());
  EXPECT_EQ(lm.tokenizer->encode_with_special_tokens(expected.at("chat_text").get<std::string>()),
            expected.at("chat_ids").get<std::vector<std::int64_t>>());
}

}  // namespace
}  // namespace selm
