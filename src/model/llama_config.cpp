#include "selm/model/llama_config.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>
#include <set>

#include <nlohmann/json.hpp>

#include "selm/util/error.hpp"
#include "selm/util/json_depth.hpp"

namespace selm {

namespace {

// Upper bounds that keep a hostile config.json from sizing tensors of terabytes (or sizes whose
// products overflow) before anything is allocated. Each is far above every released model: the
// largest vocabularies have about 2^18 tokens (Gemma 3: 262,144), the widest models 2^14
// (hidden_size 16,384) and 53,248 (2^15.7, intermediate_size of Llama 3.1 405B), at most 128
// heads and 126 layers, and the largest dense models about 2^38.6 parameters (405B).
constexpr std::int64_t kMaxVocabSize = std::int64_t{1} << 31;      // token ids stay within int32
constexpr std::int64_t kMaxWidth = std::int64_t{1} << 20;          // hidden, intermediate, head_dim
constexpr std::int64_t kMaxLayers = std::int64_t{1} << 16;
constexpr std::int64_t kMaxHeads = std::int64_t{1} << 16;
constexpr std::uint64_t kMaxParameters = std::uint64_t{1} << 40;   // 4 TB of float32

// a * b, or kMaxParameters + 1 once the product passes kMaxParameters: the factors are bounded
// above, but their products need not fit in 64 bits.
std::uint64_t capped_product(std::uint64_t a, std::uint64_t b) {
  if (a != 0 && b > kMaxParameters / a) return kMaxParameters + 1;
  return a * b;
}

std::uint64_t capped_sum(std::uint64_t a, std::uint64_t b) { return std::min(a + b, kMaxParameters + 1); }

std::string at_most(std::int64_t bound, std::int64_t value) {
  return "must be at most " + std::to_string(bound) + " (far above any real model), got " + std::to_string(value);
}

}  // namespace

void LlamaConfig::validate(const FieldChecker& check) const {
  check.require(model_type == "llama" || model_type == "mistral", "model_type",
                "must be llama or mistral, got '" + model_type + "'");
  check.require(vocab_size >= 0, "vocab_size", "must be positive, or 0 to take it from the tokenizer");
  check.require(vocab_size <= kMaxVocabSize, "vocab_size", at_most(kMaxVocabSize, vocab_size));
  check.require(hidden_size > 0, "hidden_size", "must be positive");
  check.require(hidden_size <= kMaxWidth, "hidden_size", at_most(kMaxWidth, hidden_size));
  check.require(intermediate_size > 0, "intermediate_size", "must be positive");
  check.require(intermediate_size <= kMaxWidth, "intermediate_size", at_most(kMaxWidth, intermediate_size));
  check.require(num_hidden_layers > 0, "num_hidden_layers", "must be positive");
  check.require(num_hidden_layers <= kMaxLayers, "num_hidden_layers", at_most(kMaxLayers, num_hidden_layers));
  check.require(num_attention_heads > 0, "num_attention_heads", "must be positive");
  check.require(num_attention_heads <= kMaxHeads, "num_attention_heads", at_most(kMaxHeads, num_attention_heads));
  check.require(num_key_value_heads > 0, "num_key_value_heads", "must be positive");
  check.require(num_key_value_heads <= kMaxHeads, "num_key_value_heads", at_most(kMaxHeads, num_key_value_heads));
  check.require(num_attention_heads % num_key_value_heads == 0, "num_key_value_heads",
                "must divide num_attention_heads (" + std::to_string(num_attention_heads) + "), got " +
                    std::to_string(num_key_value_heads));
  check.require(head_dim >= 0, "head_dim", "must be positive, or 0 for hidden_size / num_attention_heads");
  check.require(head_dim <= kMaxWidth, "head_dim", at_most(kMaxWidth, head_dim));
  // An explicit head_dim (Mistral-Nemo style) frees the width from being a multiple of the heads.
  if (head_dim == 0) {
    check.require(hidden_size % num_attention_heads == 0, "num_attention_heads",
                  "must divide hidden_size (" + std::to_string(hidden_size) + "), got " +
                      std::to_string(num_attention_heads));
  }
  // Rotate-half pairs the two halves of each head.
  check.require(resolved_head_dim() % 2 == 0, head_dim > 0 ? "head_dim" : "num_attention_heads",
                "the head width (" + std::to_string(resolved_head_dim()) + ") must be even for rotary embeddings");
  // Each dimension may be within bounds and the whole still absurd (2^20 wide and 2^16 deep).
  const auto width = static_cast<std::uint64_t>(hidden_size);
  const auto query_width = capped_product(static_cast<std::uint64_t>(num_attention_heads),
                                          static_cast<std::uint64_t>(resolved_head_dim()));
  const auto key_value_width = capped_product(static_cast<std::uint64_t>(num_key_value_heads),
                                              static_cast<std::uint64_t>(resolved_head_dim()));
  // q, k, v and o projections; then the SwiGLU's gate, up and down.
  const std::uint64_t attention = capped_product(width, capped_sum(2 * query_width, 2 * key_value_width));
  const std::uint64_t mlp = capped_product(3 * width, static_cast<std::uint64_t>(intermediate_size));
  const std::uint64_t layers =
      capped_product(static_cast<std::uint64_t>(num_hidden_layers), capped_sum(capped_sum(attention, mlp), 2 * width));
  const std::uint64_t embeddings =
      capped_product(static_cast<std::uint64_t>(vocab_size) * (tie_word_embeddings ? 1 : 2), width);
  const std::uint64_t parameters = capped_sum(layers, embeddings);
  check.require(parameters <= kMaxParameters, embeddings > layers ? "vocab_size" : "num_hidden_layers",
                "the model would have " + (parameters > kMaxParameters ? "more than " + std::to_string(kMaxParameters)
                                                                       : std::to_string(parameters)) +
                    " parameters (limit " + std::to_string(kMaxParameters) + ", far above any real model)");
  check.require(max_position_embeddings > 0, "max_position_embeddings", "must be positive");
  // NaN fails every comparison; infinity would pass "positive" and poison the rotary tables.
  check.require(rms_norm_eps > 0 && std::isfinite(rms_norm_eps), "rms_norm_eps", "must be positive and finite");
  check.require(rope_theta > 0 && std::isfinite(rope_theta), "rope_theta", "must be positive and finite");
  check.require(sliding_window >= 0, "sliding_window", "must be 0 (full attention) or positive");
  // config.json of LlamaForCausalLM has no window: a llama model with one would lose it on save.
  check.require(sliding_window == 0 || model_type == "mistral", "sliding_window",
                "only model_type mistral has a sliding window; use 0 for llama");
  check.require(initializer_range >= 0 && std::isfinite(initializer_range), "initializer_range",
                "must be finite and not negative");
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

nlohmann::json parse_hf_json_text(std::string_view text, const std::string& source) {
  require_json_depth_within(text, source);
  try {
    return json::parse(text);
  } catch (const json::parse_error& error) {
    throw InputError(location_prefix(source) + "invalid JSON at byte " + std::to_string(error.byte));
  } catch (const json::out_of_range&) {
    // nlohmann::json refuses numbers beyond double's range (1e309) with out_of_range, not
    // parse_error.
    throw InputError(location_prefix(source) + "invalid JSON: a number is out of range");
  }
}

std::vector<std::int64_t> hf_end_token_ids(const nlohmann::json& config_json, const std::string& source) {
  std::vector<std::int64_t> ids;
  std::set<std::int64_t> seen;  // a set: a hostile file may list a million ids
  if (!config_json.is_object()) return ids;
  const auto eos = config_json.find("eos_token_id");
  if (eos == config_json.end() || eos->is_null()) return ids;
  const auto invalid = [&] {
    throw InputError(location_prefix(source) + "key 'eos_token_id': must be a token id or a list of token ids, got " +
                     HfConfigReader::excerpt(*eos));
  };
  const auto add = [&](const json& id) {
    // Unsigned values above int64's range would wrap to negative ids.
    if (!id.is_number_integer() || (id.is_number_unsigned() && id.get<std::uint64_t>() > static_cast<std::uint64_t>(
                                                                   std::numeric_limits<std::int64_t>::max())) ||
        id.get<std::int64_t>() < 0) {
      invalid();
    }
    const auto value = id.get<std::int64_t>();
    if (seen.insert(value).second) ids.push_back(value);
  };
  if (eos->is_array()) {
    for (const json& id : *eos) add(id);
  } else {
    add(*eos);
  }
  return ids;
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
