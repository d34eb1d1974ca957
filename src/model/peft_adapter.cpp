#include "selm/model/peft_adapter.hpp"

#include <cmath>
#include <map>
#include <sstream>
#include <vector>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "selm/model/lora.hpp"
#include "selm/model/safetensors.hpp"
#include "selm/run/json_fields.hpp"
#include "selm/run/run_paths.hpp"
#include "selm/util/error.hpp"
#include "selm/util/files.hpp"

namespace selm {

namespace {

using nlohmann::json;

// "[8, 32]", as torch prints sizes.
std::string adapter_shape_text(torch::IntArrayRef shape) {
  std::ostringstream text;
  text << shape;
  return text.str();
}

// The adapter parameters of `model` under the names PEFT stores them with.
std::vector<std::pair<std::string, torch::Tensor>> peft_named_adapter_tensors(torch::nn::Module& model) {
  std::vector<std::pair<std::string, torch::Tensor>> tensors;
  for (const auto& item : model.named_parameters(/*recurse=*/true)) {
    if (is_lora_parameter_name(item.key())) tensors.emplace_back(kPeftTensorPrefix + item.key(), item.value());
  }
  return tensors;
}

// Refuses a key whose value is set to something selm does not implement (absent and null pass).
void require_peft_value(const json& config, const std::string& key, const json& supported, const std::string& where,
                   const std::string& why) {
  const auto it = config.find(key);
  if (it == config.end() || it->is_null() || *it == supported) return;
  bad_key(where, key, "is " + it->dump() + "; only " + supported.dump() + " is supported (" + why + ")");
}

// Refuses a pattern or list key that is set to a non-empty value.
void require_peft_empty(const json& config, const std::string& key, const std::string& where, const std::string& why) {
  const auto it = config.find(key);
  if (it == config.end() || it->is_null() || it->empty()) return;
  bad_key(where, key, "is " + it->dump() + "; not supported (" + why + ")");
}

double required_peft_number(const json& config, const std::string& key, const std::string& where) {
  const auto it = config.find(key);
  if (it == config.end() || !it->is_number()) bad_key(where, key, "required, a number");
  return it->get<double>();
}

}  // namespace

LoraAdapterSpec read_peft_adapter_config(const fs::path& dir) {
  const fs::path file = dir / run_files::kAdapterConfig;
  if (!fs::exists(file)) throw InputError(file.string() + ": no such file (model.adapter_path must be a PEFT adapter directory)");
  const json config = read_json_file(file);
  const std::string where = location_prefix(file.string());
  if (!config.is_object()) throw InputError(where + "must be a JSON object");
  if (optional_string(config, "peft_type", where) != "LORA") bad_key(where, "peft_type", "must be \"LORA\"");
  require_peft_value(config, "bias", "none", where, "selm's projections have no bias");
  require_peft_value(config, "fan_in_fan_out", false, where, "Llama's projections store (out, in)");
  require_peft_value(config, "use_dora", false, where, "DoRA is not implemented");
  require_peft_value(config, "use_rslora", false, where, "the scaling is lora_alpha / r");
  require_peft_empty(config, "rank_pattern", where, "one r for every module");
  require_peft_empty(config, "alpha_pattern", where, "one lora_alpha for every module");
  require_peft_empty(config, "modules_to_save", where, "only adapters are loaded");
  require_peft_empty(config, "layers_to_transform", where, "every layer gets the adapter");

  LoraAdapterSpec spec;
  const double rank = required_peft_number(config, "r", where);
  if (rank < 1 || rank != std::floor(rank)) bad_key(where, "r", "must be a positive integer");
  spec.rank = static_cast<std::int64_t>(rank);
  spec.alpha = required_peft_number(config, "lora_alpha", where);
  if (!(spec.alpha > 0)) bad_key(where, "lora_alpha", "must be positive");
  spec.dropout = optional_number(config, "lora_dropout", where).value_or(0.0);
  if (!(spec.dropout >= 0 && spec.dropout < 1)) bad_key(where, "lora_dropout", "must be in [0, 1)");
  const auto targets = config.find("target_modules");
  std::vector<std::string> names;
  if (targets != config.end() && targets->is_string()) {
    names.push_back(targets->get<std::string>());
  } else if (targets != config.end() && targets->is_array()) {
    for (const auto& name : *targets) {
      if (!name.is_string()) bad_key(where, "target_modules", "must be a list of module names");
      names.push_back(name.get<std::string>());
    }
  } else {
    bad_key(where, "target_modules", "required, a list of module names or \"all-linear\"");
  }
  const std::string problem = lora_targets_problem(names);
  if (!problem.empty()) bad_key(where, "target_modules", problem);
  spec.target_modules = resolve_lora_targets(names, "target_modules");
  return spec;
}

void save_peft_adapter(torch::nn::Module& model, const LoraAdapterSpec& spec, const fs::path& dir,
                       const std::string& base_model_name_or_path) {
  const auto tensors = peft_named_adapter_tensors(model);
  if (tensors.empty()) throw std::invalid_argument("save_peft_adapter: the model has no LoRA adapters");
  fs::create_directories(dir);
  // PEFT's dataclass types lora_alpha as an int; an integral alpha is written as one.
  const json alpha = spec.alpha == std::floor(spec.alpha) ? json(static_cast<std::int64_t>(spec.alpha)) : json(spec.alpha);
  // The LoraConfig fields PEFT writes, at their defaults where selm has no counterpart.
  const json config = {{"alpha_pattern", json::object()},
                       {"auto_mapping", nullptr},
                       {"base_model_name_or_path", base_model_name_or_path},
                       {"bias", "none"},
                       {"fan_in_fan_out", false},
                       {"inference_mode", true},
                       {"init_lora_weights", true},
                       {"layer_replication", nullptr},
                       {"layers_pattern", nullptr},
                       {"layers_to_transform", nullptr},
                       {"loftq_config", json::object()},
                       {"lora_alpha", alpha},
                       {"lora_dropout", spec.dropout},
                       {"megatron_config", nullptr},
                       {"megatron_core", "megatron.core"},
                       {"modules_to_save", nullptr},
                       {"peft_type", "LORA"},
                       {"r", spec.rank},
                       {"rank_pattern", json::object()},
                       {"revision", nullptr},
                       {"target_modules", spec.target_modules},
                       {"task_type", "CAUSAL_LM"},
                       {"use_dora", false},
                       {"use_rslora", false}};
  save_safetensors(dir / run_files::kAdapterWeights, tensors, {{"format", "pt"}});
  write_file_atomic(dir / run_files::kAdapterConfig, config.dump(2) + "\n");
}

void load_peft_adapter(torch::nn::Module& model, const fs::path& dir) {
  const fs::path path = dir / run_files::kAdapterWeights;
  if (!fs::exists(path)) throw InputError(path.string() + ": no such file (a PEFT adapter stores its weights here)");
  const SafetensorsFile file(path);
  std::map<std::string, torch::Tensor> wanted;
  for (auto& [name, tensor] : peft_named_adapter_tensors(model)) wanted.emplace(name, tensor);
  if (wanted.empty()) throw std::invalid_argument("load_peft_adapter: the model has no LoRA adapters");
  const std::string config_file = (dir / run_files::kAdapterConfig).string();
  for (const std::string& name : file.names()) {
    if (!wanted.count(name)) {
      throw InputError(path.string() + ": tensor '" + name + "' belongs to no adapter that " + config_file +
                       " describes (expected names like '" + wanted.begin()->first + "')");
    }
  }
  // Everything is checked before anything is copied.
  for (const auto& [name, tensor] : wanted) {
    if (!file.contains(name)) throw InputError(path.string() + ": missing tensor '" + name + "'");
    const auto& stored_shape = file.info(name).shape;
    if (stored_shape != tensor.sizes().vec()) {
      throw InputError(path.string() + ": shape " + adapter_shape_text(stored_shape) + " of tensor '" + name +
                       "' disagrees with " + config_file + " and the model, which imply " +
                       adapter_shape_text(tensor.sizes()));
    }
  }
  for (const auto& [name, tensor] : wanted) file.copy_into(name, tensor);
}

}  // namespace selm
