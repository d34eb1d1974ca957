// `selm train` with train.lora: every round saves its adapter in PEFT's format and a plain
// model/ with the adapter merged (start + scaling B A, no adapter tensors), which the next
// round starts from; runs killed with SIGKILL during training, between rounds and during
// evaluation resume to bit-identical adapters and weights.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "selm/model/safetensors.hpp"
#include "support/online_run_fixture.hpp"
#include "support/test_support.hpp"

namespace selm {
namespace SELM_UNITY_ID {

using test::read_text;
using test::run_selm;
namespace fs = std::filesystem;

class OnlineTrainLora : public test::OnlineRunFixture {
 protected:
  static std::vector<std::string> lora_args(const std::string& name, std::vector<std::string> overrides = {}) {
    overrides.insert(overrides.begin(), {"train.lora.rank=4", "train.lora.alpha=16", "train.learning_rate=0.01",
                                         "train.lora.target_modules=[q_proj, v_proj, down_proj]"});
    return train_args(name, overrides);
  }
};

// Each weight of `model_dir` is the one of `start_dir`, plus (alpha / r) B A where the adapter
// of `adapter_dir` has a (B, A) pair: recomputed here from the three files.
void expect_merged(const fs::path& start_dir, const fs::path& adapter_dir, const fs::path& model_dir) {
  const SafetensorsFile start(start_dir / "model.safetensors");
  const SafetensorsFile adapter(adapter_dir / "adapter_model.safetensors");
  const SafetensorsFile merged(model_dir / "model.safetensors");
  const nlohmann::json config = nlohmann::json::parse(read_text(adapter_dir / "adapter_config.json"));
  const double scaling = config.at("lora_alpha").get<double>() / config.at("r").get<double>();
  EXPECT_EQ(scaling, 4.0);
  auto names = merged.names();
  EXPECT_EQ(names, start.names());
  int adapted = 0;
  for (const std::string& name : names) {
    EXPECT_EQ(name.find("lora_"), std::string::npos) << name;
    const std::string module = name.substr(0, name.size() - std::string(".weight").size());
    const std::string a_name = "base_model.model." + module + ".lora_A.weight";
    if (!adapter.contains(a_name)) {
      EXPECT_TRUE(torch::equal(merged.read(name), start.read(name))) << name;
      continue;
    }
    ++adapted;
    const torch::Tensor delta =
        adapter.read("base_model.model." + module + ".lora_B.weight").mm(adapter.read(a_name)) * scaling;
    EXPECT_GT(delta.abs().max().item<double>(), 0.0) << name;  // training moved the adapter
    EXPECT_TRUE(torch::allclose(merged.read(name), start.read(name) + delta, 0.0, 1e-6)) << name;
  }
  EXPECT_EQ(adapted, 2 * 3);  // 2 layers x (q_proj, v_proj, down_proj)
  EXPECT_EQ(adapter.names().size(), 2u * 3u * 2u);
}

TEST_F(OnlineTrainLora, RoundsSaveThePeftAdapterAndThePlainMergedModel) {
  const auto run = run_selm(lora_args("lora"));
  ASSERT_EQ(run.exit_code, 0) << run.output;
  // The logged count is r (in + out) summed over the adapted projections of every layer.
  const nlohmann::json model_config = nlohmann::json::parse(read_text(fs::path(path("model")) / "config.json"));
  const std::int64_t hidden = model_config.at("hidden_size"), layers = model_config.at("num_hidden_layers");
  const std::int64_t head_dim = hidden / model_config.at("num_attention_heads").get<std::int64_t>();
  const std::int64_t q_out = model_config.at("num_attention_heads").get<std::int64_t>() * head_dim;
  const std::int64_t v_out = model_config.at("num_key_value_heads").get<std::int64_t>() * head_dim;
  const std::int64_t intermediate = model_config.at("intermediate_size");
  const std::int64_t expected = layers * 4 * ((hidden + q_out) + (hidden + v_out) + (intermediate + hidden));
  EXPECT_NE(run.output.find("trainable parameters: " + std::to_string(expected) + " of "), std::string::npos)
      << expected << "\n" << run.output;
  EXPECT_NE(run.output.find("(LoRA r 4 on q_proj, v_proj, down_proj)"), std::string::npos) << run.output;
  const fs::path dir = run_dir("lora");
  expect_merged(path("model"), dir / "round-1" / "adapter", dir / "round-1" / "model");
  expect_merged(dir / "round-1" / "model", dir / "round-2" / "adapter", dir / "round-2" / "model");
  const nlohmann::json adapter_config = nlohmann::json::parse(read_text(dir / "round-2" / "adapter" / "adapter_config.json"));
  EXPECT_EQ(adapter_config.at("base_model_name_or_path"), (dir / "round-1" / "model").string());
  EXPECT_EQ(adapter_config.at("target_modules"), nlohmann::json({"q_proj", "v_proj", "down_proj"}));
  // The KL estimate (reference = the same model with its adapters off) is there and finite.
  const nlohmann::json eval = nlohmann::json::parse(read_text(dir / "round-1" / "eval.json"));
  ASSERT_TRUE(eval.at("kl").is_number()) << eval.dump();

  // An adapter whose shape disagrees with train.lora is refused, naming both.
  const auto mismatch =
      run_selm(lora_args("mismatch", {"model.adapter_path=" + (dir / "round-1" / "adapter").string(),
                                      "train.lora.rank=8"}));
  EXPECT_EQ(mismatch.exit_code, 2) << mismatch.output;
  EXPECT_NE(mismatch.output.find("round-1/adapter/adapter_config.json (key 'model.adapter_path'): the adapter (r 4, "
                                 "lora_alpha 16, target_modules [q_proj, v_proj, down_proj]) disagrees with train.lora "
                                 "(r 8, lora_alpha 16, target_modules [q_proj, v_proj, down_proj])"),
            std::string::npos)
      << mismatch.output;
}

TEST_F(OnlineTrainLora, KilledAndResumedRunsEqualAnUninterruptedRun) {
  const auto straight = run_selm(lora_args("lora_straight"));
  ASSERT_EQ(straight.exit_code, 0) << straight.output;
  const std::vector<std::pair<std::string, std::string>> kill_points = {
      {"lora_during_training", "train_metrics.jsonl:2"},
      {"lora_during_round2_generation", "generations.jsonl:9"},
      {"lora_during_eval", "eval_judgments.jsonl:2"},
  };
  for (const auto& [name, point] : kill_points) {
    SCOPED_TRACE(name);
    ::setenv("SELM_KILL_AFTER_WRITE", point.c_str(), 1);
    const auto killed = test::run_program(SELM_FAULT_BINARY, lora_args(name));
    ::unsetenv("SELM_KILL_AFTER_WRITE");
    ASSERT_EQ(killed.exit_code, 128 + 9) << killed.output;  // SIGKILL
    const auto resumed = run_selm(lora_args(name));
    ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
    for (const char* round : {"round-1", "round-2"}) {
      EXPECT_EQ(read_text(run_dir(name) / round / "adapter" / "adapter_model.safetensors"),
                read_text(run_dir("lora_straight") / round / "adapter" / "adapter_model.safetensors"))
          << round;
      EXPECT_EQ(read_text(run_dir(name) / round / "model" / "model.safetensors"),
                read_text(run_dir("lora_straight") / round / "model" / "model.safetensors"))
          << round;
      nlohmann::json eval = nlohmann::json::parse(read_text(run_dir(name) / round / "eval.json"));
      nlohmann::json expected = nlohmann::json::parse(read_text(run_dir("lora_straight") / round / "eval.json"));
      for (auto* value : {&eval, &expected}) {
        value->erase("model");
        value->erase("reference");
      }
      EXPECT_EQ(eval, expected) << round;
    }
  }
}

}  // namespace
}  // namespace selm
