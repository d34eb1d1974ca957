#include "selm/model/llama_config.hpp"

#include <limits>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "selm/util/error.hpp"

namespace selm {
namespace SELM_UNITY_ID {

using nlohmann::json;

// The message of the InputError that `action` throws ("" when it throws none).
template <class Action>
std::string input_error_of(Action action) {
  try {
    action();
  } catch (const InputError& error) {
    return error.what();
  }
  return "";
}

void expect_same(const LlamaConfig& a, const LlamaConfig& b) {
  EXPECT_EQ(a.model_type, b.model_type);
  EXPECT_EQ(a.vocab_size, b.vocab_size);
  EXPECT_EQ(a.hidden_size, b.hidden_size);
  EXPECT_EQ(a.intermediate_size, b.intermediate_size);
  EXPECT_EQ(a.num_hidden_layers, b.num_hidden_layers);
  EXPECT_EQ(a.num_attention_heads, b.num_attention_heads);
  EXPECT_EQ(a.num_key_value_heads, b.num_key_value_heads);
  EXPECT_EQ(a.resolved_head_dim(), b.resolved_head_dim());
  EXPECT_EQ(a.max_position_embeddings, b.max_position_embeddings);
  EXPECT_EQ(a.rms_norm_eps, b.rms_norm_eps);
  EXPECT_EQ(a.rope_theta, b.rope_theta);
  EXPECT_EQ(a.tie_word_embeddings, b.tie_word_embeddings);
  EXPECT_EQ(a.sliding_window, b.sliding_window);
  EXPECT_EQ(a.initializer_range, b.initializer_range);
  EXPECT_EQ(a.bos_token_id, b.bos_token_id);
  EXPECT_EQ(a.eos_token_id, b.eos_token_id);
  EXPECT_EQ(a.pad_token_id, b.pad_token_id);
  EXPECT_EQ(a.torch_dtype, b.torch_dtype);
}

json tinyllama_config_json() {
  return json::parse(R"({
    "architectures": ["LlamaForCausalLM"],
    "attention_bias": false,
    "bos_token_id": 1,
    "eos_token_id": 2,
    "hidden_act": "silu",
    "hidden_size": 2048,
    "initializer_range": 0.02,
    "intermediate_size": 5632,
    "max_position_embeddings": 2048,
    "model_type": "llama",
    "num_attention_heads": 32,
    "num_hidden_layers": 22,
    "num_key_value_heads": 4,
    "pretraining_tp": 1,
    "rms_norm_eps": 1e-05,
    "rope_scaling": null,
    "rope_theta": 10000.0,
    "tie_word_embeddings": false,
    "torch_dtype": "bfloat16",
    "transformers_version": "4.35.0",
    "use_cache": true,
    "vocab_size": 32000
  })");
}

TEST(ModelLlamaConfig, DefaultsAreValid) {
  EXPECT_NO_THROW(LlamaConfig().validate(FieldChecker("architecture.", nullptr)));
}

TEST(ModelLlamaConfig, ValidateNamesTheOffendingKey) {
  const FieldChecker check("architecture.", nullptr);
  auto message = [&](auto change) {
    LlamaConfig config;
    change(config);
    return input_error_of([&] { config.validate(check); });
  };
  EXPECT_NE(message([](LlamaConfig& c) {
              c.num_attention_heads = 3;
              c.num_key_value_heads = 1;
            }).find("key 'architecture.num_attention_heads': must divide hidden_size (256), got 3"),
            std::string::npos);
  EXPECT_NE(message([](LlamaConfig& c) { c.num_key_value_heads = 3; }).find("key 'architecture.num_key_value_heads'"),
            std::string::npos);
  EXPECT_NE(message([](LlamaConfig& c) { c.hidden_size = 0; }).find("key 'architecture.hidden_size'"), std::string::npos);
  EXPECT_NE(message([](LlamaConfig& c) { c.num_hidden_layers = -1; }).find("num_hidden_layers"), std::string::npos);
  EXPECT_NE(message([](LlamaConfig& c) { c.model_type = "gpt2"; }).find("key 'architecture.model_type'"), std::string::npos);
  EXPECT_NE(message([](LlamaConfig& c) { c.torch_dtype = "float64"; }).find("key 'architecture.torch_dtype'"),
            std::string::npos);
  EXPECT_NE(message([](LlamaConfig& c) { c.vocab_size = -5; }).find("key 'architecture.vocab_size'"), std::string::npos);
  EXPECT_NE(message([](LlamaConfig& c) {
              c.model_type = "mistral";
              c.sliding_window = -1;
            }).find("key 'architecture.sliding_window'"),
            std::string::npos);
  EXPECT_NE(message([](LlamaConfig& c) { c.sliding_window = 128; }).find("only model_type mistral"), std::string::npos);
  EXPECT_NE(message([](LlamaConfig& c) {
              c.vocab_size = 100;
              c.eos_token_id = 100;
            }).find("key 'architecture.eos_token_id'"),
            std::string::npos);
  // An explicit head_dim frees the width from being a multiple of the heads (Mistral-Nemo).
  EXPECT_EQ(message([](LlamaConfig& c) {
              c.hidden_size = 100;
              c.head_dim = 32;
            }),
            "");
  EXPECT_EQ(message([](LlamaConfig& c) { c.vocab_size = 0; }), "");
}

TEST(ModelLlamaConfig, TinyLlamaConfigParses) {
  const LlamaConfig config = llama_config_from_hf_json(tinyllama_config_json(), "tiny/config.json");
  EXPECT_EQ(config.model_type, "llama");
  EXPECT_EQ(config.vocab_size, 32000);
  EXPECT_EQ(config.hidden_size, 2048);
  EXPECT_EQ(config.intermediate_size, 5632);
  EXPECT_EQ(config.num_hidden_layers, 22);
  EXPECT_EQ(config.num_attention_heads, 32);
  EXPECT_EQ(config.num_key_value_heads, 4);
  EXPECT_EQ(config.head_dim, 0);
  EXPECT_EQ(config.resolved_head_dim(), 64);
  EXPECT_EQ(config.max_position_embeddings, 2048);
  EXPECT_DOUBLE_EQ(config.rms_norm_eps, 1e-5);
  EXPECT_DOUBLE_EQ(config.rope_theta, 10000.0);
  EXPECT_FALSE(config.tie_word_embeddings);
  EXPECT_EQ(config.sliding_window, 0);
  EXPECT_EQ(config.bos_token_id, 1);
  EXPECT_EQ(config.eos_token_id, 2);
  EXPECT_FALSE(config.pad_token_id.has_value());
  EXPECT_EQ(config.torch_dtype, "bfloat16");
}

TEST(ModelLlamaConfig, MistralConfigParses) {
  const json mistral = json::parse(R"({
    "architectures": ["MistralForCausalLM"], "bos_token_id": 1, "eos_token_id": 2, "hidden_act": "silu",
    "hidden_size": 4096, "initializer_range": 0.02, "intermediate_size": 14336,
    "max_position_embeddings": 32768, "model_type": "mistral", "num_attention_heads": 32,
    "num_hidden_layers": 32, "num_key_value_heads": 8, "rms_norm_eps": 1e-05, "rope_theta": 10000.0,
    "sliding_window": 4096, "tie_word_embeddings": false, "torch_dtype": "bfloat16",
    "transformers_version": "4.34.0.dev0", "use_cache": true, "vocab_size": 32000})");
  const LlamaConfig config = llama_config_from_hf_json(mistral, "m/config.json");
  EXPECT_EQ(config.model_type, "mistral");
  EXPECT_EQ(config.sliding_window, 4096);
  EXPECT_EQ(config.num_key_value_heads, 8);
  EXPECT_EQ(config.max_position_embeddings, 32768);

  json no_window = mistral;
  no_window["sliding_window"] = nullptr;
  EXPECT_EQ(llama_config_from_hf_json(no_window, "m/config.json").sliding_window, 0);
}

TEST(ModelLlamaConfig, DefaultsForOptionalKeysFollowTransformers) {
  json minimal = {{"model_type", "llama"}, {"vocab_size", 64},        {"hidden_size", 32},
                  {"intermediate_size", 48}, {"num_hidden_layers", 2}, {"num_attention_heads", 4}};
  const LlamaConfig config = llama_config_from_hf_json(minimal, "x/config.json");
  EXPECT_EQ(config.num_key_value_heads, 4);
  EXPECT_DOUBLE_EQ(config.rope_theta, 10000.0);
  EXPECT_FALSE(config.tie_word_embeddings);
  EXPECT_EQ(config.torch_dtype, "float32");

  // The model family may come from architectures alone.
  json by_architecture = minimal;
  by_architecture.erase("model_type");
  by_architecture["architectures"] = {"MistralForCausalLM"};
  EXPECT_EQ(llama_config_from_hf_json(by_architecture, "x/config.json").model_type, "mistral");
}

TEST(ModelLlamaConfig, EosListTakesTheFirstAndNegativePadMeansNone) {
  json config_json = tinyllama_config_json();
  config_json["eos_token_id"] = {7, 2, 9};
  config_json["pad_token_id"] = -1;
  const LlamaConfig config = llama_config_from_hf_json(config_json, "x/config.json");
  EXPECT_EQ(config.eos_token_id, 7);
  EXPECT_FALSE(config.pad_token_id.has_value());
  config_json["pad_token_id"] = 0;
  EXPECT_EQ(llama_config_from_hf_json(config_json, "x/config.json").pad_token_id, std::optional<std::int64_t>(0));
}

TEST(ModelLlamaConfig, RoundTripThroughHfJson) {
  LlamaConfig llama;
  llama.vocab_size = 320;
  llama.hidden_size = 96;
  llama.intermediate_size = 200;
  llama.num_hidden_layers = 3;
  llama.num_attention_heads = 6;
  llama.num_key_value_heads = 2;
  llama.max_position_embeddings = 512;
  llama.rms_norm_eps = 1e-6;
  llama.rope_theta = 500000.0;
  llama.tie_word_embeddings = true;
  llama.initializer_range = 0.01;
  llama.bos_token_id = 3;
  llama.eos_token_id = 4;
  llama.pad_token_id = 0;
  llama.torch_dtype = "bfloat16";
  const json llama_json = llama_config_to_hf_json(llama);
  EXPECT_EQ(llama_json["architectures"], json::array({"LlamaForCausalLM"}));
  EXPECT_EQ(llama_json["model_type"], "llama");
  EXPECT_EQ(llama_json["hidden_act"], "silu");
  EXPECT_EQ(llama_json["attention_bias"], false);
  EXPECT_TRUE(llama_json.contains("rope_scaling") && llama_json["rope_scaling"].is_null());
  EXPECT_FALSE(llama_json.contains("sliding_window"));
  // Through text, as it goes through config.json.
  expect_same(llama_config_from_hf_json(json::parse(llama_json.dump(2)), "x/config.json"), llama);

  LlamaConfig mistral = llama;
  mistral.model_type = "mistral";
  mistral.sliding_window = 64;
  mistral.pad_token_id.reset();
  const json mistral_json = llama_config_to_hf_json(mistral);
  EXPECT_EQ(mistral_json["architectures"], json::array({"MistralForCausalLM"}));
  EXPECT_EQ(mistral_json["sliding_window"], 64);
  EXPECT_TRUE(mistral_json["pad_token_id"].is_null());
  expect_same(llama_config_from_hf_json(json::parse(mistral_json.dump()), "x/config.json"), mistral);

  mistral.sliding_window = 0;
  const json full_attention = llama_config_to_hf_json(mistral);
  EXPECT_TRUE(full_attention.contains("sliding_window") && full_attention["sliding_window"].is_null());
  expect_same(llama_config_from_hf_json(full_attention, "x/config.json"), mistral);
}

TEST(ModelLlamaConfig, UnsupportedFeaturesAreInputErrorsNamingFileAndKey) {
  auto error_with = [](const std::string& key, const json& value) {
    json config_json = tinyllama_config_json();
    config_json[key] = value;
    return input_error_of([&] { llama_config_from_hf_json(config_json, "ckpt/config.json"); });
  };
  const std::string scaling = error_with("rope_scaling", {{"type", "linear"}, {"factor", 2.0}});
  EXPECT_EQ(scaling.rfind("ckpt/config.json: key 'rope_scaling': unsupported", 0), 0u) << scaling;
  EXPECT_NE(error_with("hidden_act", "gelu").find("key 'hidden_act': unsupported activation 'gelu'"), std::string::npos);
  EXPECT_NE(error_with("attention_bias", true).find("key 'attention_bias': unsupported"), std::string::npos);
  EXPECT_NE(error_with("mlp_bias", true).find("key 'mlp_bias': unsupported"), std::string::npos);
  EXPECT_NE(error_with("architectures", {"GPT2LMHeadModel"}).find("unsupported architecture 'GPT2LMHeadModel'"),
            std::string::npos);
  EXPECT_NE(error_with("model_type", "gemma").find("key 'model_type'"), std::string::npos);
  EXPECT_NE(error_with("model_type", "mistral").find("disagrees with architectures"), std::string::npos);
  EXPECT_NE(error_with("torch_dtype", "float64").find("key 'torch_dtype'"), std::string::npos);
  EXPECT_NE(error_with("rope_parameters", {{"rope_type", "yarn"}}).find("key 'rope_parameters'"), std::string::npos);
}

TEST(ModelLlamaConfig, TypeAndRangeErrorsNameFileAndKey) {
  auto error_with = [](const std::string& key, const json& value) {
    json config_json = tinyllama_config_json();
    if (value.is_discarded()) {
      config_json.erase(key);
    } else {
      config_json[key] = value;
    }
    return input_error_of([&] { llama_config_from_hf_json(config_json, "ckpt/config.json"); });
  };
  EXPECT_EQ(error_with("hidden_size", "2048").rfind("ckpt/config.json: key 'hidden_size': expected an integer", 0), 0u);
  EXPECT_EQ(error_with("hidden_size", 2048.5).rfind("ckpt/config.json: key 'hidden_size': expected an integer", 0), 0u);
  EXPECT_EQ(error_with("hidden_size", json(json::value_t::discarded)), "ckpt/config.json: key 'hidden_size': missing (expected an integer)");
  EXPECT_EQ(error_with("tie_word_embeddings", 1).rfind("ckpt/config.json: key 'tie_word_embeddings': expected true or false", 0), 0u);
  EXPECT_EQ(error_with("rms_norm_eps", "small").rfind("ckpt/config.json: key 'rms_norm_eps': expected a number", 0), 0u);
  EXPECT_EQ(error_with("num_key_value_heads", 5).rfind("ckpt/config.json: key 'num_key_value_heads': must divide", 0), 0u);
  EXPECT_EQ(error_with("hidden_size", 2000).rfind("ckpt/config.json: key 'num_attention_heads': must divide hidden_size", 0), 0u);
  EXPECT_EQ(error_with("vocab_size", -1).rfind("ckpt/config.json: key 'vocab_size'", 0), 0u);
  EXPECT_EQ(error_with("eos_token_id", json::array()).rfind("ckpt/config.json: key 'eos_token_id'", 0), 0u);
  EXPECT_EQ(input_error_of([] { llama_config_from_hf_json(json::array(), "ckpt/config.json"); }),
            "ckpt/config.json: expected a JSON object");
}

TEST(ModelLlamaConfig, NewerKeyNamesAreUnderstood) {
  json config_json = tinyllama_config_json();
  config_json.erase("torch_dtype");
  config_json["dtype"] = "float16";
  config_json.erase("rope_theta");
  config_json["rope_parameters"] = {{"rope_type", "default"}, {"rope_theta", 500000.0}};
  const LlamaConfig config = llama_config_from_hf_json(config_json, "x/config.json");
  EXPECT_EQ(config.torch_dtype, "float16");
  EXPECT_DOUBLE_EQ(config.rope_theta, 500000.0);
}

// A hostile config.json must not size tensors of terabytes: every dimension has a bound far
// above real models, and so has the parameter count they imply together.
TEST(ModelLlamaConfig, HostileSizesAreRefusedNamingFileAndKey) {
  auto error_with = [](const json& changes) {
    json config_json = tinyllama_config_json();
    for (const auto& [key, value] : changes.items()) config_json[key] = value;
    return input_error_of([&] { llama_config_from_hf_json(config_json, "ckpt/config.json"); });
  };
  const std::int64_t two_to_40 = std::int64_t{1} << 40;
  for (const char* key : {"vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers",
                          "num_attention_heads", "num_key_value_heads", "head_dim"}) {
    SCOPED_TRACE(key);
    const std::string message = error_with({{key, two_to_40}});
    EXPECT_EQ(message.rfind("ckpt/config.json: key '" + std::string(key) + "': must be at most ", 0), 0u) << message;
    EXPECT_NE(message.find("got 1099511627776"), std::string::npos) << message;
    EXPECT_EQ(error_with({{key, std::numeric_limits<std::int64_t>::max()}}).rfind("ckpt/config.json: key '" + std::string(key) + "'", 0), 0u);
    EXPECT_EQ(error_with({{key, 18446744073709551615ULL}}).rfind("ckpt/config.json: key '" + std::string(key) + "': integer", 0), 0u);
    EXPECT_EQ(error_with({{key, -3}}).rfind("ckpt/config.json: key '" + std::string(key) + "'", 0), 0u);
    EXPECT_EQ(error_with({{key, 64.0}}).rfind("ckpt/config.json: key '" + std::string(key) + "': expected an integer", 0), 0u);
    EXPECT_EQ(error_with({{key, 1e300}}).rfind("ckpt/config.json: key '" + std::string(key) + "': expected an integer", 0), 0u);
  }
  // Each size within its bound, the whole model not: 2^16 layers 2^20 wide.
  const std::string deep = error_with({{"hidden_size", 1 << 20}, {"intermediate_size", 1 << 20},
                                       {"num_hidden_layers", 1 << 16}, {"num_attention_heads", 32},
                                       {"num_key_value_heads", 32}});
  EXPECT_EQ(deep.rfind("ckpt/config.json: key 'num_hidden_layers': the model would have more than 1099511627776 parameters", 0), 0u) << deep;
  const std::string wide = error_with({{"vocab_size", std::int64_t{1} << 31}, {"hidden_size", 1 << 16},
                                       {"num_hidden_layers", 1}, {"num_attention_heads", 32},
                                       {"num_key_value_heads", 32}});
  EXPECT_EQ(wide.rfind("ckpt/config.json: key 'vocab_size': the model would have more than", 0), 0u) << wide;
  // The largest released dense Llama (3.1 405B) is well inside every bound.
  EXPECT_EQ(error_with({{"vocab_size", 128256}, {"hidden_size", 16384}, {"intermediate_size", 53248},
                        {"num_hidden_layers", 126}, {"num_attention_heads", 128}, {"num_key_value_heads", 8},
                        {"max_position_embeddings", 131072}}),
            "");
}

TEST(ModelLlamaConfig, NonFiniteNumbersAreRefused) {
  const FieldChecker check("architecture.", nullptr);
  for (const double bad : {std::numeric_limits<double>::infinity(), std::numeric_limits<double>::quiet_NaN()}) {
    LlamaConfig config;
    config.rope_theta = bad;
    EXPECT_NE(input_error_of([&] { config.validate(check); }).find("key 'architecture.rope_theta'"), std::string::npos);
    config = LlamaConfig();
    config.rms_norm_eps = bad;
    EXPECT_NE(input_error_of([&] { config.validate(check); }).find("key 'architecture.rms_norm_eps'"), std::string::npos);
    config = LlamaConfig();
    config.initializer_range = bad;
    EXPECT_NE(input_error_of([&] { config.validate(check); }).find("key 'architecture.initializer_range'"),
              std::string::npos);
  }
}

// Regressions found by fuzzing: nlohmann::json refuses 1e309 with out_of_range rather than
// parse_error (it escaped as exit 1), and a value nested a million levels deep parses but
// overflows the stack when it is copied or quoted in a message.
TEST(ModelLlamaConfig, HfJsonTextErrorsAreInputErrors) {
  EXPECT_EQ(input_error_of([] { parse_hf_json_text(R"({"rope_theta": 1e309})", "ckpt/config.json"); }),
            "ckpt/config.json: invalid JSON: a number is out of range");
  EXPECT_EQ(input_error_of([] { parse_hf_json_text(R"({"rope_theta": NaN})", "ckpt/config.json"); })
                .rfind("ckpt/config.json: invalid JSON at byte", 0),
            0u);
  const std::string deep = "{\"rope_scaling\": " + std::string(1'000'000, '[') + std::string(1'000'000, ']') + "}";
  EXPECT_EQ(input_error_of([&] { parse_hf_json_text(deep, "ckpt/config.json"); }),
            "ckpt/config.json: JSON nested deeper than 512 levels (at byte 528)");
  // Brackets inside strings do not count.
  EXPECT_NO_THROW(parse_hf_json_text("{\"note\": \"" + std::string(10'000, '[') + "\"}", "ckpt/config.json"));
}

TEST(ModelLlamaConfig, EndTokenIdsOfGenerationConfig) {
  const auto ids = [](const std::string& text) {
    return hf_end_token_ids(parse_hf_json_text(text, "m/generation_config.json"), "m/generation_config.json");
  };
  EXPECT_EQ(ids(R"({"eos_token_id": [128001, 128009, 128001]})"), (std::vector<std::int64_t>{128001, 128009}));
  EXPECT_EQ(ids(R"({"eos_token_id": 2})"), (std::vector<std::int64_t>{2}));
  EXPECT_TRUE(ids(R"({"eos_token_id": null})").empty());
  EXPECT_TRUE(ids(R"([1, 2])").empty());
  for (const char* bad : {R"({"eos_token_id": -1})", R"({"eos_token_id": 18446744073709551615})",
                          R"({"eos_token_id": [[1]]})", R"({"eos_token_id": 2.5})", R"({"eos_token_id": "2"})"}) {
    SCOPED_TRACE(bad);
    EXPECT_EQ(input_error_of([&] { ids(bad); }).rfind("m/generation_config.json: key 'eos_token_id': ", 0), 0u);
  }
  // A million ids take a set's time, not a list's.
  std::string many = R"({"eos_token_id": [)";
  for (int id = 0; id < 1'000'000; ++id) many += (id ? "," : "") + std::to_string(id);
  many += "]}";
  EXPECT_EQ(ids(many).size(), 1'000'000u);
}

}  // namespace
}  // namespace selm
