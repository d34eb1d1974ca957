// The memory planner's closed forms against independent counts: parameters against a built
// model's tensors, the KV cache and activations against hand-worked sizes, and the verdicts of
// `selm plan` on configs that fit and that do not.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "selm/model/llama.hpp"
#include "selm/train/memory_plan.hpp"
#include "selm/util/error.hpp"
#include "support/test_support.hpp"

namespace selm {
namespace SELM_UNITY_ID {

namespace fs = std::filesystem;

LlamaConfig small_gqa_llama() {
  LlamaConfig model;
  model.vocab_size = 96;
  model.hidden_size = 32;
  model.intermediate_size = 80;
  model.num_hidden_layers = 3;
  model.num_attention_heads = 4;
  model.num_key_value_heads = 2;
  return model;
}

// Llama-2-7B's shape (Zephyr's base is Mistral-7B, of the same order).
LlamaConfig llama_7b() {
  LlamaConfig model;
  model.vocab_size = 32000;
  model.hidden_size = 4096;
  model.intermediate_size = 11008;
  model.num_hidden_layers = 32;
  model.num_attention_heads = 32;
  model.num_key_value_heads = 32;
  return model;
}

std::int64_t numel_of(torch::nn::Module& module) {
  std::int64_t count = 0;
  for (const auto& parameter : module.parameters()) count += parameter.numel();
  return count;
}

TEST(MemoryPlan, ParameterCountEqualsTheBuiltModels) {
  for (const bool tied : {false, true}) {
    LlamaConfig config = small_gqa_llama();
    config.tie_word_embeddings = tied;
    LlamaForCausalLM model(config);
    EXPECT_EQ(llama_parameter_count(config), numel_of(*model)) << "tied " << tied;
  }
  // Llama-2-7B has 6,738,415,616 parameters (its published size).
  EXPECT_EQ(llama_parameter_count(llama_7b()), 6738415616);
}

TEST(MemoryPlan, LoraParametersAreRankTimesInPlusOutPerTargetAndLayer) {
  const LlamaConfig config = small_gqa_llama();  // C 32, q 4*8 = 32, kv 2*8 = 16, F 80, 3 layers
  LoraPlan lora{4, {"q_proj", "v_proj"}, false};
  EXPECT_EQ(lora_parameter_count(config, lora), 3 * (4 * (32 + 32) + 4 * (32 + 16)));
  lora.target_modules = {"gate_proj", "down_proj", "lm_head"};
  EXPECT_EQ(lora_parameter_count(config, lora), 3 * (4 * (32 + 80) + 4 * (80 + 32)) + 4 * (32 + 96));
  lora.rank = 0;
  EXPECT_EQ(lora_parameter_count(config, lora), 0);
}

TEST(MemoryPlan, PartsFollowTheSettings) {
  MemoryPlanInputs in;
  in.model = small_gqa_llama();
  in.generate_batch_size = 5;
  in.generate_prompt_length = 7;
  in.max_new_tokens = 9;
  const MemoryPlan full = plan_memory(in);
  const std::int64_t parameters = llama_parameter_count(in.model);
  EXPECT_EQ(full.part("weights").bytes, parameters * 4);
  EXPECT_EQ(full.part("gradients").bytes, parameters * 4);
  // K and V: 2 x 3 layers x 5 rows x (2 heads x 8) x (7 + 9) slots x 4 bytes.
  const std::int64_t cache = 2 * 3 * 5 * 16 * 16 * 4;
  EXPECT_GT(full.part("kv_cache").bytes, cache);
  EXPECT_LT(full.part("kv_cache").bytes, cache + 5 * 7 * (3 * 32 + 3 * 80) * 4 + 5 * 96 * 8 + 1);

  // ZeRO-1 over 4 ranks keeps a quarter of the AdamW moments on each (the temporaries stay).
  MemoryPlanInputs sharded = in;
  sharded.world_size = 4;
  sharded.shard_optimizer_state = true;
  EXPECT_EQ(full.part("optimizer").bytes - plan_memory(sharded).part("optimizer").bytes, 2 * parameters * 4 * 3 / 4);

  MemoryPlanInputs checkpointed = in;
  checkpointed.gradient_checkpointing = true;
  const MemoryPlan with = plan_memory(checkpointed);
  EXPECT_LT(with.part("activations").bytes, full.part("activations").bytes);
  EXPECT_EQ(with.activations_with_checkpointing, full.activations_with_checkpointing);
  EXPECT_EQ(with.activations_without_checkpointing, full.activations_without_checkpointing);

  MemoryPlanInputs adapted = in;
  adapted.lora = {8, {"q_proj", "k_proj", "v_proj", "o_proj"}, false};
  const MemoryPlan lora = plan_memory(adapted);
  const std::int64_t adapter = lora_parameter_count(in.model, adapted.lora);
  EXPECT_EQ(lora.trainable_parameters, adapter);
  EXPECT_EQ(lora.part("gradients").bytes, adapter * 4);
  EXPECT_EQ(lora.part("weights").bytes, (parameters + adapter) * 4);
  EXPECT_LT(lora.part("optimizer").bytes, full.part("optimizer").bytes);

  // Pure bf16 halves weights, gradients and moments.
  MemoryPlanInputs bf16 = in;
  bf16.weight_bytes = bf16.trainable_bytes = 2;
  EXPECT_EQ(plan_memory(bf16).part("weights").bytes * 2, full.part("weights").bytes);
}

TEST(MemoryPlan, ActivationsScaleWithRowsAndTokens) {
  MemoryPlanInputs in;
  in.model = small_gqa_llama();
  in.train_batch_size = 2;
  in.max_length = 64;
  in.max_prompt_length = 32;
  const std::int64_t one = plan_memory(in).activations_without_checkpointing;
  in.train_batch_size = 4;
  // The sliced CPU kernel keeps nothing quadratic except the shared (rows, T, T) mask, so twice
  // the rows is exactly twice the bytes.
  EXPECT_EQ(plan_memory(in).activations_without_checkpointing, 2 * one);
}

TEST(MemoryPlan, SevenBillionFullFineTuningDoesNotFitOneGpuButLoraWithCheckpointingDoes) {
  MemoryPlanInputs in;
  in.model = llama_7b();
  in.device = PlanDevice::cuda;
  in.attention = PlanAttention::fused;
  in.autocast_bf16 = true;
  in.train_batch_size = 4;
  in.max_length = 1024;
  in.max_prompt_length = 512;
  in.generate_batch_size = 32;
  in.generate_bytes = 2;
  const std::int64_t gpu = std::int64_t{80} << 30;
  const MemoryPlan full = plan_memory(in);
  // fp32 weights, gradients and two moments alone are 16 bytes per parameter: 100 GiB.
  EXPECT_GT(full.peak_bytes, gpu);
  const auto suggestions = memory_suggestions(in);
  ASSERT_FALSE(suggestions.empty());
  EXPECT_EQ(suggestions.front().setting.rfind("train.lora.rank=16", 0), 0u) << suggestions.front().setting;

  in.lora = {16, {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"}, false};
  in.gradient_checkpointing = true;
  const MemoryPlan lora = plan_memory(in);
  EXPECT_LT(lora.peak_bytes, gpu);
  EXPECT_EQ(lora.trainable_parameters, 39976960);  // PEFT's count for r=16 on all linear layers of Llama-2-7B
}

TEST(MemoryPlan, ParsesMemorySizes) {
  EXPECT_EQ(parse_memory_size("80GiB", "--gpu-memory"), std::int64_t{80} << 30);
  EXPECT_EQ(parse_memory_size("40 GB", "--gpu-memory"), std::int64_t{40000000000});
  EXPECT_EQ(parse_memory_size("512MiB", "--gpu-memory"), std::int64_t{512} << 20);
  EXPECT_EQ(parse_memory_size("1.5TiB", "--gpu-memory"), std::int64_t{3} << 39);
  EXPECT_EQ(parse_memory_size("4096", "--gpu-memory"), 4096);
  for (const char* bad : {"", "GiB", "-1GiB", "80 parsecs", "1e30GB", "nan"}) {
    EXPECT_NE(test::input_error_of([&] { parse_memory_size(bad, "--gpu-memory"); }).find("--gpu-memory"), std::string::npos)
        << bad;
  }
  EXPECT_EQ(format_bytes(std::int64_t{3} << 29), "1.50 GiB");
  EXPECT_EQ(format_bytes(std::int64_t{3} << 19), "1.5 MiB");
}

}  // namespace
}  // namespace selm

namespace selm {
namespace SELM_UNITY_ID {

namespace fs = std::filesystem;

// A model directory holding only config.json: the planner reads nothing else.
fs::path write_config_only_model(const fs::path& dir, const LlamaConfig& model) {
  fs::create_directories(dir);
  nlohmann::json config = {{"architectures", {"LlamaForCausalLM"}},
                           {"model_type", "llama"},
                           {"vocab_size", model.vocab_size},
                           {"hidden_size", model.hidden_size},
                           {"intermediate_size", model.intermediate_size},
                           {"num_hidden_layers", model.num_hidden_layers},
                           {"num_attention_heads", model.num_attention_heads},
                           {"num_key_value_heads", model.num_key_value_heads},
                           {"torch_dtype", "float32"}};
  test::write_text(dir / "config.json", config.dump(2));
  return dir;
}

fs::path write_plan_config(const fs::path& dir, const fs::path& model_dir) {
  const fs::path file = dir / "plan.yaml";
  test::write_text(file, "run:\n  output_dir: " + (dir / "runs").string() + "\nmodel:\n  path: " + model_dir.string() +
                       "\ntrain:\n  batch_size: 4\n  max_length: 1024\n  max_prompt_length: 512\n"
                       "generate:\n  batch_size: 32\n  max_new_tokens: 256\n");
  return file;
}

TEST(PlanCommand, SaysWhetherTheRunFitsAndWhatToChange) {
  test::TempDir temp;
  const fs::path dir = temp.path();
  const fs::path config = write_plan_config(dir, write_config_only_model(dir / "llama7b", llama_7b()));

  const test::CommandResult json = test::run_selm({"plan", "-c", config.string(), "--gpu-memory", "80GiB", "--json"});
  ASSERT_EQ(json.exit_code, 0) << json.output;
  const auto plan = nlohmann::json::parse(json.output);
  EXPECT_EQ(plan.at("parameters").get<std::int64_t>(), 6738415616);
  EXPECT_FALSE(plan.at("fits").get<bool>());
  EXPECT_EQ(plan.at("peak_phase").get<std::string>(), "training");

  const test::CommandResult text = test::run_selm({"plan", "-c", config.string(), "--gpu-memory", "80GiB"});
  ASSERT_EQ(text.exit_code, 0) << text.output;
  EXPECT_NE(text.output.find("does NOT fit"), std::string::npos) << text.output;
  EXPECT_NE(text.output.find("train.lora.rank=16"), std::string::npos) << text.output;
  EXPECT_NE(text.output.find("train.gradient_checkpointing=true"), std::string::npos) << text.output;

  const test::CommandResult small = test::run_selm({"plan", "-c", config.string(), "--gpu-memory", "80GiB", "--json",
                                        "model.path=" + write_config_only_model(dir / "small", small_gqa_llama()).string()});
  ASSERT_EQ(small.exit_code, 0) << small.output;
  EXPECT_TRUE(nlohmann::json::parse(small.output).at("fits").get<bool>());
}

TEST(PlanCommand, BadInputIsExitTwoNamingIt) {
  test::TempDir temp;
  const fs::path dir = temp.path();
  const fs::path config = write_plan_config(dir, dir / "missing");
  const test::CommandResult missing = test::run_selm({"plan", "-c", config.string()});
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.output.find("model.path"), std::string::npos) << missing.output;
  const fs::path good = write_plan_config(dir, write_config_only_model(dir / "small", small_gqa_llama()));
  const test::CommandResult size = test::run_selm({"plan", "-c", good.string(), "--gpu-memory", "lots"});
  EXPECT_EQ(size.exit_code, 2);
  EXPECT_NE(size.output.find("--gpu-memory"), std::string::npos) << size.output;
}

TEST(PlanCommand, TrainRefusesARunThatCannotFitUnlessForced) {
  test::TempDir temp;
  const fs::path dir = temp.path();
  // 7B with fp32 AdamW needs over 100 GiB: no CI machine has it available.
  const fs::path config = write_plan_config(dir, write_config_only_model(dir / "llama7b", llama_7b()));
  const test::CommandResult refused = test::run_selm({"train", "-c", config.string(), "run.name=big"});
  EXPECT_EQ(refused.exit_code, 2) << refused.output;
  EXPECT_NE(refused.output.find("does not fit"), std::string::npos) << refused.output;
  EXPECT_NE(refused.output.find("selm plan"), std::string::npos) << refused.output;
  EXPECT_FALSE(fs::exists(dir / "runs" / "big")) << "a refused run leaves no run directory";
}

}  // namespace
}  // namespace selm

namespace selm {
namespace SELM_UNITY_ID {

LlamaConfig mistral_7b() {  // Zephyr-7B-SFT's shape
  LlamaConfig model = llama_7b();
  model.intermediate_size = 14336;
  model.num_key_value_heads = 8;
  return model;
}

LlamaConfig llama3_8b() {
  LlamaConfig model = mistral_7b();
  model.vocab_size = 128256;
  return model;
}

// The one-GPU recipes fit 80 GB by the plan; the full fine-tuning recipes they derive from do not.
TEST(PlanCommand, TheLoraRecipesFitOneEightyGigabyteGpu) {
  test::TempDir temp;
  const std::string recipes = std::string(SELM_SOURCE_DIR) + "/configs/recipes/";
  const std::vector<std::pair<std::string, LlamaConfig>> cases = {{"zephyr-7b-selm", mistral_7b()},
                                                                  {"llama3-8b-selm", llama3_8b()}};
  for (const auto& [recipe, shape] : cases) {
    const fs::path model = write_config_only_model(temp.path() / recipe, shape);
    auto plan = [&](const std::string& file) {
      const test::CommandResult result = test::run_selm(
          {"plan", "-c", recipes + file, "--gpu-memory", "80GiB", "--json", "model.path=" + model.string()});
      EXPECT_EQ(result.exit_code, 0) << file << "\n" << result.output;
      return nlohmann::json::parse(result.output);
    };
    const auto lora = plan(recipe + "-lora.yaml");
    EXPECT_TRUE(lora.at("fits").get<bool>()) << recipe << ": " << lora.dump(2);
    // rank 128 on the seven projections of 32 layers, with grouped-query k/v of 1024 columns.
    EXPECT_EQ(lora.at("trainable_parameters").get<std::int64_t>(),
              32 * 128 * ((4096 + 4096) * 2 + (4096 + 1024) * 2 + (4096 + 14336) * 3));
    EXPECT_FALSE(plan(recipe + ".yaml").at("fits").get<bool>()) << recipe;
  }
}

}  // namespace
}  // namespace selm
