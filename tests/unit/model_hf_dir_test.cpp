#include "selm/model/hf_model_dir.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "selm/model/safetensors.hpp"
#include "selm/util/error.hpp"
#include "support/test_support.hpp"

namespace selm {
namespace SELM_UNITY_ID {

using nlohmann::json;
using test::TempDir;

// A stand-in for the Llama module whose registration names follow Hugging Face's, so that its
// parameters are "model.embed_tokens.weight", "model.layers.0.self_attn.q_proj.weight", ...
struct NormImpl : torch::nn::Module {
  explicit NormImpl(std::int64_t width) { weight = register_parameter("weight", torch::ones({width})); }
  torch::Tensor weight;
};
TORCH_MODULE(Norm);

struct AttentionImpl : torch::nn::Module {
  explicit AttentionImpl(std::int64_t width) {
    q_proj = register_module("q_proj", torch::nn::Linear(torch::nn::LinearOptions(width, width).bias(false)));
  }
  torch::nn::Linear q_proj{nullptr};
};
TORCH_MODULE(Attention);

struct LayerImpl : torch::nn::Module {
  explicit LayerImpl(std::int64_t width) {
    self_attn = register_module("self_attn", Attention(width));
    input_layernorm = register_module("input_layernorm", Norm(width));
  }
  Attention self_attn{nullptr};
  Norm input_layernorm{nullptr};
};
TORCH_MODULE(Layer);

struct BackboneImpl : torch::nn::Module {
  BackboneImpl(std::int64_t vocab, std::int64_t width, int layer_count) {
    embed_tokens = register_module("embed_tokens", torch::nn::Embedding(vocab, width));
    layers = register_module("layers", torch::nn::ModuleList());
    for (int i = 0; i < layer_count; ++i) layers->push_back(Layer(width));
    norm = register_module("norm", Norm(width));
  }
  torch::nn::Embedding embed_tokens{nullptr};
  torch::nn::ModuleList layers{nullptr};
  Norm norm{nullptr};
};
TORCH_MODULE(Backbone);

struct TinyCausalLmImpl : torch::nn::Module {
  TinyCausalLmImpl(std::int64_t vocab, std::int64_t width, int layer_count) {
    model = register_module("model", Backbone(vocab, width, layer_count));
    lm_head = register_module("lm_head", torch::nn::Linear(torch::nn::LinearOptions(width, vocab).bias(false)));
    // Derived from the config, never saved (like rotary tables).
    rotary_table = register_buffer("rotary_table", torch::arange(width, torch::kFloat32));
  }
  Backbone model{nullptr};
  torch::nn::Linear lm_head{nullptr};
  torch::Tensor rotary_table;
};
TORCH_MODULE(TinyCausalLm);

TinyCausalLm make_model(std::int64_t vocab, std::int64_t width, int layers, std::uint64_t seed) {
  torch::manual_seed(seed);
  TinyCausalLm model(vocab, width, layers);
  // Give the norms non-trivial values too, so a skipped copy would show.
  torch::NoGradGuard no_grad;
  for (auto& parameter : model->parameters()) parameter.normal_(0.0, 1.0);
  return model;
}

void expect_same_parameters(torch::nn::Module& a, torch::nn::Module& b) {
  const auto a_parameters = a.named_parameters();
  const auto b_parameters = b.named_parameters();
  ASSERT_EQ(a_parameters.size(), b_parameters.size());
  for (const auto& item : a_parameters) {
    SCOPED_TRACE(item.key());
    const torch::Tensor other = b_parameters[item.key()];
    ASSERT_EQ(item.value().scalar_type(), other.scalar_type());
    EXPECT_TRUE(torch::equal(item.value(), other));
  }
}

std::vector<std::string> sorted_file_names(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir)) names.push_back(entry.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

template <class Action>
std::string input_error_of(Action action) {
  try {
    action();
  } catch (const InputError& error) {
    return error.what();
  }
  return "";
}

TEST(ModelHfDir, ConfigFilesRoundTrip) {
  TempDir dir;
  LlamaConfig config;
  config.vocab_size = 64;
  config.hidden_size = 32;
  config.intermediate_size = 48;
  config.num_attention_heads = 4;
  config.num_key_value_heads = 2;
  config.tie_word_embeddings = true;
  config.torch_dtype = "bfloat16";
  write_model_config(dir.path(), config);
  const LlamaConfig loaded = read_model_config(dir.path());
  EXPECT_EQ(loaded.vocab_size, 64);
  EXPECT_EQ(loaded.hidden_size, 32);
  EXPECT_EQ(loaded.num_key_value_heads, 2);
  EXPECT_TRUE(loaded.tie_word_embeddings);
  EXPECT_EQ(loaded.torch_dtype, "bfloat16");

  const json written = json::parse(test::read_text(dir / "config.json"));
  EXPECT_EQ(written["architectures"], json::array({"LlamaForCausalLM"}));
  EXPECT_EQ(written["hidden_act"], "silu");

  write_generation_config(dir.path(), 1, 2);
  EXPECT_EQ(json::parse(test::read_text(dir / "generation_config.json")), json({{"bos_token_id", 1}, {"eos_token_id", 2}}));
  write_generation_config(dir.path(), 1, 2, 0);
  EXPECT_EQ(json::parse(test::read_text(dir / "generation_config.json"))["pad_token_id"], 0);

  // A config without a vocabulary size cannot make a loadable config.json.
  LlamaConfig unsized;
  EXPECT_NE(input_error_of([&] { write_model_config(dir / "unsized", unsized); }).find("vocab_size"), std::string::npos);
}

TEST(ModelHfDir, MissingDirectoryOrFilesAreNamed) {
  TempDir dir;
  EXPECT_EQ(input_error_of([&] { read_model_config(dir / "nowhere"); }),
            (dir / "nowhere").string() + ": model directory does not exist");
  EXPECT_EQ(input_error_of([&] { read_model_config(dir.path()); }), dir.path().string() + ": missing config.json");
  test::write_text(dir / "config.json", "{\"model_type\": \"llama\",");
  EXPECT_EQ(input_error_of([&] { read_model_config(dir.path()); }).rfind((dir / "config.json").string() + ": invalid JSON", 0), 0u);

  TinyCausalLm model = make_model(16, 8, 1, 1);
  const std::string no_weights = input_error_of([&] { load_module_weights(*model, dir.path()); });
  EXPECT_EQ(no_weights.rfind(dir.path().string() + ": missing model weights", 0), 0u) << no_weights;
  EXPECT_NE(no_weights.find("model.safetensors"), std::string::npos);
  test::write_text(dir / "pytorch_model.bin", "pickle");
  EXPECT_NE(input_error_of([&] { load_module_weights(*model, dir.path()); }).find("pytorch_model.bin"), std::string::npos);
}

TEST(ModelHfDir, SaveThenLoadRestoresEveryParameter) {
  TempDir dir;
  TinyCausalLm saved = make_model(64, 32, 2, 1);
  save_module_weights(*saved, dir.path());
  EXPECT_EQ(sorted_file_names(dir.path()), std::vector<std::string>({"model.safetensors"}));
  const SafetensorsFile file(dir / "model.safetensors");
  EXPECT_TRUE(file.contains("model.layers.1.self_attn.q_proj.weight"));
  EXPECT_TRUE(file.contains("model.layers.0.input_layernorm.weight"));
  EXPECT_FALSE(file.contains("rotary_table"));  // buffers are not saved
  EXPECT_EQ(file.metadata().at("format"), "pt");

  TinyCausalLm loaded = make_model(64, 32, 2, 2);
  load_module_weights(*loaded, dir.path());
  expect_same_parameters(*saved, *loaded);
  for (const auto& parameter : loaded->parameters()) EXPECT_TRUE(parameter.requires_grad());
}

TEST(ModelHfDir, ShardedSaveLoadsLikeTheSingleFile) {
  TempDir dir;
  TinyCausalLm saved = make_model(64, 32, 3, 3);
  // Parameters: embed 64x32, 3 x (q 32x32 + norm 32), norm 32, lm_head 32x64, all f32.
  const std::int64_t total = (64 * 32 + 3 * (32 * 32 + 32) + 32 + 64 * 32) * 4;
  const fs::path single_dir = dir / "single";
  const fs::path sharded_dir = dir / "sharded";
  save_module_weights(*saved, single_dir);
  save_module_weights(*saved, sharded_dir, /*max_shard_bytes=*/9000);

  const std::vector<std::string> files = sorted_file_names(sharded_dir);
  ASSERT_GE(files.size(), 3u);
  EXPECT_EQ(files.front(), "model-00001-of-0000" + std::to_string(files.size() - 1) + ".safetensors");
  EXPECT_EQ(files.back(), "model.safetensors.index.json");
  const json index = json::parse(test::read_text(sharded_dir / "model.safetensors.index.json"));
  EXPECT_EQ(index["metadata"]["total_size"], total);
  EXPECT_EQ(index["weight_map"].size(), saved->named_parameters().size());
  EXPECT_EQ(index["weight_map"]["model.embed_tokens.weight"], "model-00001-of-0000" + std::to_string(files.size() - 1) + ".safetensors");
  // No shard exceeds the limit unless it holds a single tensor.
  for (std::size_t i = 0; i + 1 < files.size(); ++i) {
    const SafetensorsFile shard(sharded_dir / files[i]);
    std::uint64_t bytes = 0;
    for (const std::string& name : shard.names()) bytes += shard.info(name).byte_size();
    EXPECT_TRUE(bytes <= 9000 || shard.names().size() == 1) << files[i];
  }

  TinyCausalLm from_single = make_model(64, 32, 3, 4);
  TinyCausalLm from_shards = make_model(64, 32, 3, 5);
  load_module_weights(*from_single, single_dir);
  load_module_weights(*from_shards, sharded_dir);
  expect_same_parameters(*from_single, *from_shards);
  expect_same_parameters(*saved, *from_shards);
}

TEST(ModelHfDir, SavingRemovesTheOtherLayout) {
  TempDir dir;
  TinyCausalLm model = make_model(64, 32, 2, 6);
  save_module_weights(*model, dir.path(), 9000);
  const std::size_t sharded_count = sorted_file_names(dir.path()).size();
  ASSERT_GT(sharded_count, 2u);
  // A different shard count leaves none of the earlier shards behind.
  save_module_weights(*model, dir.path(), 5000);
  std::set<std::string> indexed = {"model.safetensors.index.json"};
  const json index = json::parse(test::read_text(dir / "model.safetensors.index.json"));
  for (const auto& item : index["weight_map"].items()) {
    indexed.insert(item.value().get<std::string>());
  }
  const std::vector<std::string> present = sorted_file_names(dir.path());
  EXPECT_EQ(std::set<std::string>(present.begin(), present.end()), indexed);
  EXPECT_NE(present.size(), sharded_count);
  save_module_weights(*model, dir.path());
  EXPECT_EQ(sorted_file_names(dir.path()), std::vector<std::string>({"model.safetensors"}));
  save_module_weights(*model, dir.path(), 9000);
  EXPECT_EQ(sorted_file_names(dir.path()).size(), sharded_count);
  EXPECT_FALSE(fs::exists(dir / "model.safetensors"));
}

TEST(ModelHfDir, LoadingConvertsTheStoredDtype) {
  TempDir dir;
  TinyCausalLm saved = make_model(16, 8, 1, 7);
  saved->to(torch::kBFloat16);
  save_module_weights(*saved, dir.path());
  EXPECT_EQ(SafetensorsFile(dir / "model.safetensors").info("lm_head.weight").dtype, "BF16");

  TinyCausalLm loaded = make_model(16, 8, 1, 8);
  load_module_weights(*loaded, dir.path());
  for (const auto& item : loaded->named_parameters()) {
    SCOPED_TRACE(item.key());
    EXPECT_EQ(item.value().scalar_type(), torch::kFloat32);
    EXPECT_TRUE(torch::equal(item.value(), saved->named_parameters()[item.key()].to(torch::kFloat32)));
  }
}

TEST(ModelHfDir, ShapeMismatchNamesFileTensorAndShapes) {
  TempDir dir;
  TinyCausalLm saved = make_model(64, 32, 1, 9);
  save_module_weights(*saved, dir.path());
  TinyCausalLm wider = make_model(64, 48, 1, 10);
  const torch::Tensor before = wider->model->embed_tokens->weight.clone();
  const std::string message = input_error_of([&] { load_module_weights(*wider, dir.path()); });
  EXPECT_EQ(message, (dir / "model.safetensors").string() +
                         ": shape [64, 32] of tensor 'model.embed_tokens.weight' disagrees with config.json, which "
                         "implies [64, 48]");
  // Nothing was copied.
  EXPECT_TRUE(torch::equal(before, wider->model->embed_tokens->weight));
}

TEST(ModelHfDir, MissingAndUnexpectedTensors) {
  TempDir dir;
  TinyCausalLm saved = make_model(32, 16, 2, 11);
  save_module_weights(*saved, dir.path(), kDefaultMaxShardBytes, {"lm_head.weight"});
  EXPECT_FALSE(SafetensorsFile(dir / "model.safetensors").contains("lm_head.weight"));

  TinyCausalLm loaded = make_model(32, 16, 2, 12);
  const std::string missing = input_error_of([&] { load_module_weights(*loaded, dir.path()); });
  EXPECT_EQ(missing, (dir / "model.safetensors").string() +
                         ": missing tensor 'lm_head.weight' (shape [32, 16]), which the model needs");

  // Tied embeddings: lm_head may be absent, and keeps its value.
  const torch::Tensor head_before = loaded->lm_head->weight.clone();
  WeightLoadOptions tied;
  tied.optional_names = {"lm_head.weight"};
  load_module_weights(*loaded, dir.path(), tied);
  EXPECT_TRUE(torch::equal(loaded->lm_head->weight, head_before));
  EXPECT_TRUE(torch::equal(loaded->model->embed_tokens->weight, saved->model->embed_tokens->weight));

  // A deeper checkpoint has tensors the model does not.
  TinyCausalLm deeper = make_model(32, 16, 3, 13);
  save_module_weights(*deeper, dir.path());
  const std::string unexpected = input_error_of([&] { load_module_weights(*loaded, dir.path()); });
  EXPECT_EQ(unexpected.rfind((dir / "model.safetensors").string() + ": unexpected tensor 'model.layers.2.", 0), 0u)
      << unexpected;

  // A shallower one lacks some: all are counted.
  TinyCausalLm shallower = make_model(32, 16, 1, 14);
  save_module_weights(*shallower, dir.path());
  const std::string several = input_error_of([&] { load_module_weights(*loaded, dir.path()); });
  EXPECT_NE(several.find("missing tensor 'model.layers.1.self_attn.q_proj.weight' (shape [16, 16])"), std::string::npos)
      << several;
  EXPECT_NE(several.find("and 1 more: model.layers.1.input_layernorm.weight"), std::string::npos) << several;
}

TEST(ModelHfDir, RotaryTablesInCheckpointsAreIgnoredAndBuffersOptIn) {
  TempDir dir;
  TinyCausalLm saved = make_model(16, 8, 1, 15);
  std::vector<std::pair<std::string, torch::Tensor>> tensors;
  for (const auto& item : saved->named_parameters()) tensors.emplace_back(item.key(), item.value());
  tensors.emplace_back("model.layers.0.self_attn.rotary_emb.inv_freq", torch::ones({4}));
  tensors.emplace_back("rotary_table", torch::full({8}, 5.0f));
  save_safetensors(dir / "model.safetensors", tensors);

  TinyCausalLm loaded = make_model(16, 8, 1, 16);
  // rotary_table is a buffer: unexpected unless buffers are loaded too.
  EXPECT_NE(input_error_of([&] { load_module_weights(*loaded, dir.path()); }).find("unexpected tensor 'rotary_table'"),
            std::string::npos);
  WeightLoadOptions with_buffers;
  with_buffers.include_buffers = true;
  load_module_weights(*loaded, dir.path(), with_buffers);
  expect_same_parameters(*saved, *loaded);
  EXPECT_TRUE(torch::equal(loaded->rotary_table, torch::full({8}, 5.0f)));
}

TEST(ModelHfDir, BrokenIndexFilesAreInputErrors) {
  TempDir dir;
  TinyCausalLm model = make_model(32, 16, 2, 17);
  save_module_weights(*model, dir.path(), 3000);
  const fs::path index_path = dir / "model.safetensors.index.json";
  json index = json::parse(test::read_text(index_path));

  json missing_shard = index;
  missing_shard["weight_map"]["lm_head.weight"] = "model-00009-of-00009.safetensors";
  test::write_text(index_path, missing_shard.dump());
  const std::string absent = input_error_of([&] { load_module_weights(*model, dir.path()); });
  EXPECT_EQ(absent.rfind(index_path.string() + ": shard model-00009-of-00009.safetensors (tensor lm_head.weight) does not exist", 0), 0u)
      << absent;

  json wrong_shard = index;
  wrong_shard["weight_map"]["lm_head.weight"] = index["weight_map"]["model.embed_tokens.weight"];
  ASSERT_NE(wrong_shard["weight_map"]["lm_head.weight"], index["weight_map"]["lm_head.weight"]);
  test::write_text(index_path, wrong_shard.dump());
  EXPECT_NE(input_error_of([&] { load_module_weights(*model, dir.path()); }).find("tensor 'lm_head.weight' is listed in"),
            std::string::npos);

  json escaping = index;
  escaping["weight_map"]["lm_head.weight"] = "../elsewhere.safetensors";
  test::write_text(index_path, escaping.dump());
  EXPECT_NE(input_error_of([&] { load_module_weights(*model, dir.path()); }).find("invalid shard file name"), std::string::npos);

  test::write_text(index_path, R"({"metadata": {}})");
  EXPECT_NE(input_error_of([&] { load_module_weights(*model, dir.path()); }).find("key 'weight_map'"), std::string::npos);

  // Regressions found by fuzzing: a name longer than the file system allows made fs::exists
  // throw filesystem_error, a number beyond double's range escaped as json out_of_range, and
  // deep nesting overflowed the stack; each is bad input.
  json long_name = index;
  long_name["weight_map"]["lm_head.weight"] = std::string(300, 'a') + ".safetensors";
  test::write_text(index_path, long_name.dump());
  EXPECT_NE(input_error_of([&] { load_module_weights(*model, dir.path()); }).find("does not exist"), std::string::npos);
  test::write_text(index_path, R"({"metadata": {"total_size": 1e309}, "weight_map": {}})");
  EXPECT_EQ(input_error_of([&] { load_module_weights(*model, dir.path()); }),
            index_path.string() + ": invalid JSON: a number is out of range");
  test::write_text(index_path, std::string(1'000'000, '[') + std::string(1'000'000, ']'));
  EXPECT_NE(input_error_of([&] { load_module_weights(*model, dir.path()); }).find("nested deeper than"), std::string::npos);

  // Restored, it loads again.
  test::write_text(index_path, index.dump());
  EXPECT_NO_THROW(load_module_weights(*model, dir.path()));
}

}  // namespace
}  // namespace selm

namespace selm {
namespace SELM_UNITY_ID {

TEST(ModelHfDir, EndTokenIdsComeFromBothConfigFilesNumbersOrLists) {
  TempDir dir;
  EXPECT_TRUE(read_end_token_ids(dir.path()).empty());  // neither file: none
  test::write_text(dir / "generation_config.json", R"({"bos_token_id": 128000, "eos_token_id": [128001, 128009]})");
  test::write_text(dir / "config.json", R"({"eos_token_id": 128009})");
  EXPECT_EQ(read_end_token_ids(dir.path()), (std::vector<std::int64_t>{128001, 128009}));
  test::write_text(dir / "config.json", R"({"eos_token_id": 7})");
  EXPECT_EQ(read_end_token_ids(dir.path()), (std::vector<std::int64_t>{128001, 128009, 7}));
  test::write_text(dir / "generation_config.json", R"({"eos_token_id": null})");
  EXPECT_EQ(read_end_token_ids(dir.path()), (std::vector<std::int64_t>{7}));
  test::write_text(dir / "generation_config.json", R"({"eos_token_id": ["2"]})");
  const std::string message = test::input_error_of([&] { read_end_token_ids(dir.path()); });
  EXPECT_NE(message.find((dir / "generation_config.json").string() + ": key 'eos_token_id'"), std::string::npos) << message;
  test::write_text(dir / "generation_config.json", R"({"eos_token_id": -1})");
  EXPECT_NE(test::input_error_of([&] { read_end_token_ids(dir.path()); }).find("eos_token_id"), std::string::npos);
  // Nesting a million deep parses, then overflowed the stack when the value was copied.
  test::write_text(dir / "generation_config.json",
                   "{\"eos_token_id\": " + std::string(1'000'000, '[') + std::string(1'000'000, ']') + "}");
  EXPECT_NE(test::input_error_of([&] { read_end_token_ids(dir.path()); }).find("nested deeper than 512 levels"),
            std::string::npos);
}

}  // namespace
}  // namespace selm
