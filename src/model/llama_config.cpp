#include "selm/model/llama_config.hpp"

#include <limits>
#include <optional>

#include <nlohmann/json.hpp>

#include "selm/util/error.hpp"

namespace selm {

void LlamaConfig::validate(const FieldChecker& check) const {
  check.require(model_type == "llama" || model_type == "mistral", "model_type",
                "must be llama or mistral, got '" + model_type + "'");
  check.require(vocab_size >= 0, "vocab_size", "must be positive, or 0 to take it from the tokenizer");
  check.require(hidden_size > 0, "hidden_size", "must be positive");
  check.require(intermediate_size > 0, "intermediate_size", "must be positive");
  check.require(num_hidden_layers > 0, "num_hidden_layers", "must be positive");
  check.require(num_attention_heads > 0, "num_attention_heads", "must be positive");
  check.require(num_key_value_heads > 0, "num_key_value_heads", "must be positive");
  check.require(num_attention_heads % num_key_value_heads == 0, "num_key_value_heads",
                "must divide num_attention_heads (" + std::to_string(num_attention_heads) + "), got " +
                    std::to_string(num_key_value_heads));
  check.require(head_dim >= 0, "head_dim", "must be positive, or 0 for hidden_size / num_attention_heads");
  // An explicit head_dim (Mistral-Nemo style) frees the width from being a multiple of the heads.
  if (head_dim == 0) {
    check.require(hidden_size % num_attention_heads == 0, "num_attention_heads",
                  "must divide hidden_size (" + std::to_string(hidden_size) + "), got " +
                      std::to_string(num_attention_heads));
  }
  // Rotate-half pairs the two halves of each head.
  check.require(resolved_head_dim() % 2 == 0, head_dim > 0 ? "head_dim" : "num_attention_heads",
                "the head width (" + std::to_string(resolved_head_dim()) + ") must be even for rotary embeddings");
  check.require(max_position_embeddings > 0, "max_position_embeddings", "must be positive");
  check.require(rms_norm_eps > 0, "rms_norm_eps", "must be positive");
  check.require(rope_theta > 0, "rope_theta", "must be positive");
  check.require(sliding_window >= 0, "sliding_window", "must be 0 (full attention) or positive");
  // config.json of LlamaForCausalLM has no window: a llama model with one would lose it on save.
  check.require(sliding_window == 0 || model_type == "mistral", "sliding_window",
                "only model_type mistral has a sliding window; use 0 for llama");
  check.require(initializer_range >= 0, "initializer_range", "must not be negative");
  check.require(bos_token_id >= 0 && (vocab_size == 0 || bos_token_id < vocab_size), "bos_token_id",
                "must be a token id below vocab_size, got " + std::to_string(bos_token_id));
  check.require(eos_token_id >= 0 && (vocab_size == 0 || eos_token_id < vocab_size), "eos_token_id",
                "must be a token id below vocab_size, got " + std::to_string(eos_token_id));
  if (pad_token_id) {
    check.require(*pad_token_id >= 0 && (vocab_size == 0 || *pad_token_id < vocab_size), "pad_token_id",
                  "must be a token id below vocab_size or null, got " + std::to_string(*pad_token_id));
  }
  check.require(torch_dtype == "float32" || torch_dtype == "bfloat16" || torch_dtype == "float16", "torch_dtype",
                "must be float32, bfloat16 or float16, got '" + torch_dtype + "'");
}

namespace {

using nlohmann::json;

// Typed access to the keys of one config.json, with messages "SOURCE: key 'K': ...".
class HfConfigReader {
 public:
  HfConfigReader(const json& object, const std::string& source) : object_(object), source_(source) {}

  [[noreturn]] void fail(const std::string& key, const std::string& message) const {
    throw InputError(location_prefix(source_) + "key '" + key + "': " + message);
  }

  // Absent and null both give nullptr.
  const json* find(const std::string& key) const {
    const auto it = object_.find(key);
    return it == object_.end() || it->is_null() ? nullptr : &*it;
  }

  std::optional<std::int64_t> optional_integer(const std::string& key) const {
    const json* value = find(key);
    if (value == nullptr) return std::nullopt;
    return as_integer(key, *value);
  }

  std::int64_t required_integer(const std::string& key) const {
    const auto value = optional_integer(key);
    if (!value) fail(key, "missing (expected an integer)");
    return *value;
  }

  std::optional<double> optional_number(const std::string& key) const {
    const json* value = find(key);
    if (value == nullptr) return std::nullopt;
    if (!value->is_number()) fail(key, "expected a number, got " + excerpt(*value));
    return value->get<double>();
  }

  std::optional<bool> optional_boolean(const std::string& key) const {
    const json* value = find(key);
    if (value == nullptr) return std::nullopt;
    if (!value->is_boolean()) fail(key, "expected true or false, got " + excerpt(*value));
    return value->get<bool>();
  }

  std::optional<std::string> optional_string(const std::string& key) const {
    const json* value = find(key);
    if (value == nullptr) return std::nullopt;
    if (!value->is_string()) fail(key, "expected a string, got " + excerpt(*value));
    return value->get<std::string>();
  }

  std::int64_t as_integer(const std::string& key, const json& value) const {
    if (value.is_number_unsigned()) {
      const auto unsigned_value = value.get<std::uint64_t>();
      if (unsigned_value > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
        fail(key, "integer " + excerpt(value) + " is too large");
      }
      return static_cast<std::int64_t>(unsigned_value);
    }
    if (!value.is_number_integer()) fail(key, "expected an integer, got " + excerpt(value));
    return value.get<std::int64_t>();
  }

  static std::string excerpt(const json& value) {
    std::string text = value.dump(-1, ' ', false, json::error_handler_t::replace);
    if (text.size() > 60) text = text.substr(0, 57) + "...";
    return text;
  }

 private:
  const json& object_;
  const std::string& source_;
};

const char* architecture_of(const std::string& model_type) {
  return model_type == "mistral" ? "MistralForCausalLM" : "LlamaForCausalLM";
}

}  // namespace

LlamaConfig llama_config_from_hf_json(const nlohmann::json& config_json, const std::string& source) {
  if (!config_json.is_object()) throw InputError(location_prefix(source) + "expected a JSON object");
  const HfConfigReader reader(config_json, source);
  LlamaConfig config;

  // The model family: model_type, else inferred from architectures; the two must agree.
  std::optional<std::string> architecture_type;
  if (const json* architectures = reader.find("architectures")) {
    if (!architectures->is_array()) reader.fail("architectures", "expected a list of strings");
    for (const json& name : *architectures) {
      if (!name.is_string()) reader.fail("architectures", "expected a list of strings");
      const std::string text = name.get<std::string>();
      if (text == "LlamaForCausalLM") {
        architecture_type = "llama";
      } else if (text == "MistralForCausalLM") {
        architecture_type = "mistral";
      } else {
        reader.fail("architectures",
                    "unsupported architecture '" + text + "' (supported: LlamaForCausalLM, MistralForCausalLM)");
      }
    }
  }
  if (const auto model_type = reader.optional_string("model_type")) {
    if (*model_type != "llama" && *model_type != "mistral") {
      reader.fail("model_type", "unsupported model type '" + *model_type + "' (supported: llama, mistral)");
    }
    if (architecture_type && *architecture_type != *model_type) {
      reader.fail("model_type", "'" + *model_type + "' disagrees with architectures, which names " +
                                    architecture_of(*architecture_type));
    }
    config.model_type = *model_type;
  } else if (architecture_type) {
    config.model_type = *architecture_type;
  } else {
    reader.fail("model_type", "missing (expected \"llama\" or \"mistral\")");
  }

  config.vocab_size = reader.required_integer("vocab_size");
  config.hidden_size = reader.required_integer("hidden_size");
  config.intermediate_size = reader.required_integer("intermediate_size");
  config.num_hidden_layers = reader.required_integer("num_hidden_layers");
  config.num_attention_heads = reader.required_integer("num_attention_heads");
  config.num_key_value_heads = reader.optional_integer("num_key_value_heads").value_or(config.num_attention_heads);
  config.head_dim = reader.optional_integer("head_dim").value_or(0);
  // Defaults below are those of transformers' LlamaConfig / MistralConfig.
  config.max_position_embeddings =
      reader.optional_integer("max_position_embeddings").value_or(config.model_type == "mistral" ? 4096 * 32 : 2048);
  config.rms_norm_eps = reader.optional_number("rms_norm_eps").value_or(1e-6);
  config.rope_theta = reader.optional_number("rope_theta").value_or(10000.0);
  config.tie_word_embeddings = reader.optional_boolean("tie_word_embeddings").value_or(false);
  config.initializer_range = reader.optional_number("initializer_range").value_or(0.02);
  if (config.model_type == "mistral") {
    // MistralConfig defaults to a 4096-token window; null means full attention.
    const auto it = config_json.find("sliding_window");
    config.sliding_window = it == config_json.end() ? 4096 : reader.optional_integer("sliding_window").value_or(0);
  }

  config.bos_token_id = reader.optional_integer("bos_token_id").value_or(config.bos_token_id);
  if (const json* eos = reader.find("eos_token_id")) {
    // Newer checkpoints list several end tokens; the first is the one generation appends.
    if (eos->is_array()) {
      if (eos->empty()) reader.fail("eos_token_id", "the list of end tokens is empty");
      config.eos_token_id = reader.as_integer("eos_token_id", eos->front());
    } else {
      config.eos_token_id = reader.as_integer("eos_token_id", *eos);
    }
  }
  config.pad_token_id = reader.optional_integer("pad_token_id");
  // Some early conversions write pad_token_id -1 for "no padding token".
  if (config.pad_token_id && *config.pad_token_id < 0) config.pad_token_id.reset();

  // transformers >= 4.56 writes "dtype" where older versions wrote "torch_dtype".
  const std::string dtype_key = reader.find("torch_dtype") == nullptr && reader.find("dtype") != nullptr ? "dtype" : "torch_dtype";
  config.torch_dtype = reader.optional_string(dtype_key).value_or("float32");
  if (config.torch_dtype != "float32" && config.torch_dtype != "bfloat16" && config.torch_dtype != "float16") {
    reader.fail(dtype_key, "unsupported dtype '" + config.torch_dtype + "' (supported: float32, bfloat16, float16)");
  }

  // Features this implementation does not have: refusing them beats computing something else.
  if (const auto activation = reader.optional_string("hidden_act"); activation && *activation != "silu") {
    reader.fail("hidden_act", "unsupported activation '" + *activation + "' (only silu is supported)");
  }
  for (const char* key : {"attention_bias", "mlp_bias"}) {
    if (reader.optional_boolean(key).value_or(false)) reader.fail(key, "unsupported: must be false (bias terms are not implemented)");
  }
  if (const json* scaling = reader.find("rope_scaling")) {
    reader.fail("rope_scaling", "unsupported: rope scaling " + HfConfigReader::excerpt(*scaling) + " is not implemented (must be null)");
  }
  // transformers 5 moved rope_theta into rope_parameters; only the plain ("default") kind is supported.
  if (const json* rope = reader.find("rope_parameters")) {
    if (!rope->is_object()) reader.fail("rope_parameters", "expected an object");
    const HfConfigReader rope_reader(*rope, source);
    const std::string rope_type = rope_reader.optional_string("rope_type").value_or("default");
    if (rope_type != "default") {
      reader.fail("rope_parameters", "unsupported: rope_type '" + rope_type + "' is not implemented (only default)");
    }
    if (const auto theta = rope_reader.optional_number("rope_theta")) config.rope_theta = *theta;
  }

  // Range checks with the same messages as the YAML config: "SOURCE: key 'K': ...".
  KeyOrigins origins;
  for (const char* key : {"model_type", "vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers",
                          "num_attention_heads", "num_key_value_heads", "head_dim", "max_position_embeddings",
                          "rms_norm_eps", "rope_theta", "sliding_window", "initializer_range", "bos_token_id",
                          "eos_token_id", "pad_token_id", "torch_dtype"}) {
    origins[key] = source;
  }
  config.validate(FieldChecker("", &origins));
  return config;
}

nlohmann::json llama_config_to_hf_json(const LlamaConfig& config) {
  json out = json::object();
  out["architectures"] = json::array({architecture_of(config.model_type)});
  out["model_type"] = config.model_type;
  out["vocab_size"] = config.vocab_size;
  out["hidden_size"] = config.hidden_size;
  out["intermediate_size"] = config.intermediate_size;
  out["num_hidden_layers"] = config.num_hidden_layers;
  out["num_attention_heads"] = config.num_attention_heads;
  out["num_key_value_heads"] = config.num_key_value_heads;
  out["head_dim"] = config.resolved_head_dim();
  out["max_position_embeddings"] = config.max_position_embeddings;
  out["rms_norm_eps"] = config.rms_norm_eps;
  out["rope_theta"] = config.rope_theta;
  out["rope_scaling"] = nullptr;
  out["tie_word_embeddings"] = config.tie_word_embeddings;
  out["initializer_range"] = config.initializer_range;
  out["hidden_act"] = "silu";
  out["attention_bias"] = false;
  out["attention_dropout"] = 0.0;
  out["mlp_bias"] = false;
  out["use_cache"] = true;
  out["bos_token_id"] = config.bos_token_id;
  out["eos_token_id"] = config.eos_token_id;
  out["pad_token_id"] = config.pad_token_id ? json(*config.pad_token_id) : json(nullptr);
  out["torch_dtype"] = config.torch_dtype;
  if (config.model_type == "mistral") {
    out["sliding_window"] = config.sliding_window > 0 ? json(config.sliding_window) : json(nullptr);
  }
  return out;
}

}  // namespace selm
