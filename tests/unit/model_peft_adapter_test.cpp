// LoRA adapters in Hugging Face PEFT's format: the file names, tensor names, shapes and dtype
// and the adapter_config.json fields PEFT writes (as constants here), the save -> load round
// trip, and the errors for files selm cannot load.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "selm/model/llama.hpp"
#include "selm/model/lora.hpp"
#include "selm/model/peft_adapter.hpp"
#include "selm/model/safetensors.hpp"
#include "selm/util/error.hpp"
#include "support/lora_test_model.hpp"
#include "support/test_support.hpp"

namespace selm {
namespace SELM_UNITY_ID {

using nlohmann::json;

// The test model's q_proj is 32 -> 32, its v_proj 32 -> 16 (support/lora_test_model.hpp).
LoraAdapterSpec q_v_adapter() {
  LoraAdapterSpec spec;
  spec.rank = 4;
  spec.alpha = 16;
  spec.dropout = 0.05;
  spec.target_modules = {"q_proj", "v_proj"};
  return spec;
}

LlamaRuntimeOptions with_adapter(const LoraAdapterSpec& spec) {
  LlamaRuntimeOptions options;
  options.lora = spec;
  return options;
}

// A seeded base model with adapters whose B factors are not zero (as after training).
LlamaForCausalLM trained_looking_model(const LoraAdapterSpec& spec) {
  torch::manual_seed(21);
  LlamaForCausalLM model(test::lora_test_config(), with_adapter(spec));
  torch::NoGradGuard no_grad;
  for (auto& [name, projection] : adapted_projections(*model)) projection->lora_B_weight.normal_(0.0, 0.1);
  return model;
}

torch::Tensor logits_of(LlamaForCausalLM& model) {
  torch::NoGradGuard no_grad;
  torch::manual_seed(4);
  const auto ids = torch::randint(0, 61, {2, 6}, torch::kInt64);
  return model->forward(ids, torch::ones({2, 6}, torch::kInt64));
}

TEST(ModelPeftAdapter, FilesHavePeftsNamesShapesAndFields) {
  test::TempDir dir;
  LlamaForCausalLM model = trained_looking_model(q_v_adapter());
  save_peft_adapter(*model, q_v_adapter(), dir.path() / "adapter", "runs/x/round-1/model");
  std::set<std::string> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir.path() / "adapter")) {
    files.insert(entry.path().filename().string());
  }
  EXPECT_EQ(files, (std::set<std::string>{"adapter_config.json", "adapter_model.safetensors"}));

  const SafetensorsFile weights(dir.path() / "adapter" / "adapter_model.safetensors");
  const std::vector<std::pair<std::string, std::vector<std::int64_t>>> expected_tensors = {
      {"base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight", {4, 32}},
      {"base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight", {32, 4}},
      {"base_model.model.model.layers.0.self_attn.v_proj.lora_A.weight", {4, 32}},
      {"base_model.model.model.layers.0.self_attn.v_proj.lora_B.weight", {16, 4}},
      {"base_model.model.model.layers.1.self_attn.q_proj.lora_A.weight", {4, 32}},
      {"base_model.model.model.layers.1.self_attn.q_proj.lora_B.weight", {32, 4}},
      {"base_model.model.model.layers.1.self_attn.v_proj.lora_A.weight", {4, 32}},
      {"base_model.model.model.layers.1.self_attn.v_proj.lora_B.weight", {16, 4}},
  };
  std::vector<std::string> names = weights.names();
  std::sort(names.begin(), names.end());
  ASSERT_EQ(names.size(), expected_tensors.size());
  for (std::size_t i = 0; i < names.size(); ++i) {
    EXPECT_EQ(names[i], expected_tensors[i].first);
    EXPECT_EQ(weights.info(names[i]).shape, expected_tensors[i].second) << names[i];
    EXPECT_EQ(weights.read(names[i]).scalar_type(), torch::kFloat32) << names[i];
  }
  EXPECT_EQ(weights.metadata().at("format"), "pt");
  EXPECT_TRUE(torch::equal(weights.read("base_model.model.model.layers.1.self_attn.v_proj.lora_B.weight"),
                           model->named_parameters()["model.layers.1.self_attn.v_proj.lora_B.weight"]));

  const json config = json::parse(test::read_text(dir.path() / "adapter" / "adapter_config.json"));
  const json expected = {{"alpha_pattern", json::object()},
                         {"auto_mapping", nullptr},
                         {"base_model_name_or_path", "runs/x/round-1/model"},
                         {"bias", "none"},
                         {"fan_in_fan_out", false},
                         {"inference_mode", true},
                         {"init_lora_weights", true},
                         {"layer_replication", nullptr},
                         {"layers_pattern", nullptr},
                         {"layers_to_transform", nullptr},
                         {"loftq_config", json::object()},
                         {"lora_alpha", 16},
                         {"lora_dropout", 0.05},
                         {"megatron_config", nullptr},
                         {"megatron_core", "megatron.core"},
                         {"modules_to_save", nullptr},
                         {"peft_type", "LORA"},
                         {"r", 4},
                         {"rank_pattern", json::object()},
                         {"revision", nullptr},
                         {"target_modules", {"q_proj", "v_proj"}},
                         {"task_type", "CAUSAL_LM"},
                         {"use_dora", false},
                         {"use_rslora", false}};
  EXPECT_EQ(config, expected);
  EXPECT_TRUE(config.at("lora_alpha").is_number_integer());
}

TEST(ModelPeftAdapter, SaveThenLoadGivesIdenticalLogits) {
  test::TempDir dir;
  LlamaForCausalLM model = trained_looking_model(q_v_adapter());
  save_peft_adapter(*model, q_v_adapter(), dir.path(), "base");

  const LoraAdapterSpec read = read_peft_adapter_config(dir.path());
  EXPECT_EQ(read.rank, 4);
  EXPECT_EQ(read.alpha, 16.0);
  EXPECT_EQ(read.dropout, 0.05);
  EXPECT_EQ(read.target_modules, (std::vector<std::string>{"q_proj", "v_proj"}));
  torch::manual_seed(21);  // the same base weights
  LlamaForCausalLM loaded(test::lora_test_config(), with_adapter(read));
  EXPECT_FALSE(torch::equal(logits_of(loaded), logits_of(model)));  // B = 0 before loading
  load_peft_adapter(*loaded, dir.path());
  EXPECT_TRUE(torch::equal(logits_of(loaded), logits_of(model)));
}

TEST(ModelPeftAdapter, AllLinearAndPeftsOwnSpellingsAreRead) {
  test::TempDir dir;
  test::write_text(dir.path() / "adapter_config.json",
                   R"({"peft_type": "LORA", "r": 2, "lora_alpha": 4.5, "target_modules": "all-linear",
                       "bias": "none", "use_dora": false, "modules_to_save": null, "rank_pattern": {}})");
  const LoraAdapterSpec spec = read_peft_adapter_config(dir.path());
  EXPECT_EQ(spec.rank, 2);
  EXPECT_EQ(spec.alpha, 4.5);
  EXPECT_EQ(spec.dropout, 0.0);
  EXPECT_EQ(spec.target_modules,
            (std::vector<std::string>{"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"}));
}

TEST(ModelPeftAdapter, UnsupportedConfigsAreInputErrorsNamingTheFileAndKey) {
  test::TempDir dir;
  const std::string file = (dir.path() / "adapter_config.json").string();
  const auto error_for = [&](const std::string& extra) {
    test::write_text(file, R"({"peft_type": "LORA", "r": 4, "lora_alpha": 8, "target_modules": ["q_proj"])" + extra +
                               "}");
    return test::input_error_of([&] { read_peft_adapter_config(dir.path()); });
  };
  EXPECT_EQ(error_for(R"(, "use_dora": true)"),
            file + ": key 'use_dora': is true; only false is supported (DoRA is not implemented)");
  EXPECT_EQ(error_for(R"(, "bias": "all")"),
            file + ": key 'bias': is \"all\"; only \"none\" is supported (selm's projections have no bias)");
  EXPECT_EQ(error_for(R"(, "fan_in_fan_out": true)"),
            file + ": key 'fan_in_fan_out': is true; only false is supported (Llama's projections store (out, in))");
  EXPECT_EQ(error_for(R"(, "modules_to_save": ["lm_head"])"),
            file + ": key 'modules_to_save': is [\"lm_head\"]; not supported (only adapters are loaded)");
  test::write_text(file, R"({"peft_type": "LORA", "r": 4, "lora_alpha": 8, "target_modules": ["qkv"]})");
  EXPECT_EQ(test::input_error_of([&] { read_peft_adapter_config(dir.path()); }),
            file + ": key 'target_modules': unknown module 'qkv' (known: q_proj, k_proj, v_proj, o_proj, gate_proj, "
                   "up_proj, down_proj, lm_head, or all-linear)");
  test::write_text(file, R"({"peft_type": "PREFIX_TUNING", "r": 4})");
  EXPECT_EQ(test::input_error_of([&] { read_peft_adapter_config(dir.path()); }),
            file + ": key 'peft_type': must be \"LORA\"");
  std::filesystem::remove(file);
  EXPECT_EQ(test::input_error_of([&] { read_peft_adapter_config(dir.path()); }),
            file + ": no such file (model.adapter_path must be a PEFT adapter directory)");
}

TEST(ModelPeftAdapter, BadWeightFilesAreInputErrorsNamingTheFileAndTensor) {
  test::TempDir dir;
  LlamaForCausalLM model = trained_looking_model(q_v_adapter());
  const std::string file = (dir.path() / "adapter_model.safetensors").string();
  const std::string q_a = "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight";
  const auto stored = [&](const std::string& replaced, const torch::Tensor& value) {
    std::vector<std::pair<std::string, torch::Tensor>> tensors;
    for (const auto& item : model->named_parameters()) {
      if (!is_lora_parameter_name(item.key())) continue;
      const std::string name = "base_model.model." + item.key();
      if (name == replaced) {
        if (value.defined()) tensors.emplace_back(name, value);
      } else {
        tensors.emplace_back(name, item.value().detach());
      }
    }
    return tensors;
  };
  save_safetensors(file, stored(q_a, torch::zeros({8, 32})));
  EXPECT_EQ(test::input_error_of([&] { load_peft_adapter(*model, dir.path()); }),
            file + ": shape [8, 32] of tensor '" + q_a + "' disagrees with " +
                (dir.path() / "adapter_config.json").string() + " and the model, which imply [4, 32]");
  save_safetensors(file, stored(q_a, torch::Tensor()));
  EXPECT_EQ(test::input_error_of([&] { load_peft_adapter(*model, dir.path()); }),
            file + ": missing tensor '" + q_a + "'");
  auto extra = stored("", torch::Tensor());
  extra.emplace_back("base_model.model.model.layers.0.self_attn.k_proj.lora_A.weight", torch::zeros({4, 32}));
  save_safetensors(file, extra);
  const std::string unknown = test::input_error_of([&] { load_peft_adapter(*model, dir.path()); });
  EXPECT_EQ(unknown.rfind(file + ": tensor 'base_model.model.model.layers.0.self_attn.k_proj.lora_A.weight' belongs "
                                 "to no adapter that ",
                          0),
            0u)
      << unknown;
  // A failed load leaves the model as it was.
  const torch::Tensor before = model->named_parameters()["model.layers.0.self_attn.q_proj.lora_A.weight"].clone();
  save_safetensors(file, stored(q_a, torch::zeros({8, 32})));
  EXPECT_THROW(load_peft_adapter(*model, dir.path()), InputError);
  EXPECT_TRUE(torch::equal(model->named_parameters()["model.layers.0.self_attn.q_proj.lora_A.weight"], before));
}

}  // namespace
}  // namespace selm
