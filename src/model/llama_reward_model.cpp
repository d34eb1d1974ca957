#include "selm/model/llama_reward_model.hpp"

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "selm/util/error.hpp"
#include "selm/util/files.hpp"

namespace selm {

namespace {

using nlohmann::json;

constexpr const char* kLlamaHeadArchitecture = "LlamaForSequenceClassification";
constexpr const char* kMistralHeadArchitecture = "MistralForSequenceClassification";

const char* head_architecture_of(const std::string& model_type) {
  return model_type == "mistral" ? kMistralHeadArchitecture : kLlamaHeadArchitecture;
}

// Labels of a sequence-classification config.json as transformers counts them: the size of
// id2label, else num_labels, else transformers' default of 2. The two keys must agree.
std::int64_t label_count(const json& config_json, const std::string& where) {
  std::optional<std::int64_t> from_id2label;
  if (const auto it = config_json.find("id2label"); it != config_json.end() && !it->is_null()) {
    if (!it->is_object()) throw InputError(where + "key 'id2label': expected an object {\"0\": \"LABEL_0\"}");
    from_id2label = static_cast<std::int64_t>(it->size());
  }
  std::optional<std::int64_t> from_num_labels;
  if (const auto it = config_json.find("num_labels"); it != config_json.end() && !it->is_null()) {
    if (!it->is_number_integer()) throw InputError(where + "key 'num_labels': expected an integer");
    from_num_labels = it->get<std::int64_t>();
  }
  if (from_id2label && from_num_labels && *from_id2label != *from_num_labels) {
    throw InputError(where + "key 'num_labels': " + std::to_string(*from_num_labels) + " disagrees with id2label, which has " +
                     std::to_string(*from_id2label) + " labels");
  }
  if (from_id2label) return *from_id2label;
  if (from_num_labels) return *from_num_labels;
  return 2;
}

// config.json of a reward model -> the backbone's LlamaConfig. The head's keys are checked
// here; the rest is read by the LlamaForCausalLM reader, given the matching causal-LM
// architecture so that its model_type checks still apply.
LlamaConfig read_reward_model_config(const std::filesystem::path& dir) {
  if (!std::filesystem::is_directory(dir)) throw InputError(dir.string() + ": model directory does not exist");
  const std::filesystem::path path = dir / kModelConfigFile;
  if (!std::filesystem::exists(path)) throw InputError(dir.string() + ": missing " + kModelConfigFile);
  const std::string where = path.string() + ": ";
  const json config_json = parse_hf_json_text(read_file(path), path.string());
  if (!config_json.is_object()) throw InputError(where + "expected a JSON object");

  const auto architectures = config_json.find("architectures");
  if (architectures == config_json.end() || !architectures->is_array() || architectures->size() != 1 ||
      !architectures->front().is_string()) {
    throw InputError(where + "key 'architectures': expected [\"" + kLlamaHeadArchitecture + "\"] (or [\"" +
                     kMistralHeadArchitecture + "\"]) for a reward model");
  }
  const std::string architecture = architectures->front().get<std::string>();
  std::string backbone_architecture;
  if (architecture == kLlamaHeadArchitecture) {
    backbone_architecture = "LlamaForCausalLM";
  } else if (architecture == kMistralHeadArchitecture) {
    backbone_architecture = "MistralForCausalLM";
  } else {
    throw InputError(where + "key 'architectures': '" + architecture + "' is not a reward model (expected " +
                     kLlamaHeadArchitecture + " or " + kMistralHeadArchitecture + ")");
  }
  const std::int64_t labels = label_count(config_json, where);
  if (labels != 1) {
    throw InputError(where + "key 'num_labels': a reward model has one label (a scalar score), this config has " +
                     std::to_string(labels));
  }
  json backbone_json = config_json;
  backbone_json["architectures"] = json::array({backbone_architecture});
  return llama_config_from_hf_json(backbone_json, path.string());
}

}  // namespace

LlamaForSequenceClassificationImpl::LlamaForSequenceClassificationImpl(const LlamaConfig& config,
                                                                       std::int64_t num_labels)
    : config_(config), num_labels_(num_labels) {
  if (num_labels < 1) throw InputError("key 'num_labels': must be at least 1, got " + std::to_string(num_labels));
  model = register_module("model", LlamaModel(config));
  score = register_module("score", torch::nn::Linear(torch::nn::LinearOptions(config.hidden_size, num_labels).bias(false)));
  reset_parameters();
}

torch::Tensor LlamaForSequenceClassificationImpl::last_real_positions(const torch::Tensor& input_ids,
                                                                      const torch::Tensor& attention_mask) const {
  torch::Tensor real = attention_mask.to(torch::kBool);  // (B, T)
  if (config_.pad_token_id) real = real.logical_and(input_ids.ne(*config_.pad_token_id));
  const std::int64_t length = input_ids.size(1);
  // 1-based positions of real tokens, 0 elsewhere; the row maximum is the last real one.
  const torch::Tensor one_based = torch::arange(1, length + 1, input_ids.options().dtype(torch::kInt64));  // (T)
  const torch::Tensor last = (one_based.unsqueeze(0) * real.to(torch::kInt64)).amax(1) - 1;             // (B)
  if (last.lt(0).any().item<bool>()) {
    throw InputError("reward model input: a row has no real token (all padding or pad ids)");
  }
  return last;
}

torch::Tensor LlamaForSequenceClassificationImpl::forward(const torch::Tensor& input_ids,
                                                          const torch::Tensor& attention_mask) {
  const torch::Tensor positions = last_real_positions(input_ids, attention_mask);  // (B)
  const torch::Tensor hidden = model(input_ids, attention_mask);                   // (B, T, C)
  const torch::Tensor rows = torch::arange(hidden.size(0), positions.options());
  const torch::Tensor pooled = hidden.index({rows, positions});                    // (B, C)
  return score(pooled);                                                           // (B, L)
}

void LlamaForSequenceClassificationImpl::reset_parameters() {
  torch::NoGradGuard no_grad;
  const double std_dev = config_.initializer_range;
  for (auto& item : named_parameters()) {
    // Norm weights start at one; everything else (embeddings, projections, the head) is
    // normal(0, initializer_range), as transformers initialises a Llama.
    const std::string& name = item.key();
    const bool is_norm = name.size() >= 11 && name.compare(name.size() - 11, 11, "norm.weight") == 0;
    if (is_norm) {
      item.value().fill_(1.0);
    } else {
      item.value().normal_(0.0, std_dev);
    }
  }
}

torch::Device LlamaForSequenceClassificationImpl::device() const { return model->embed_tokens->weight.device(); }

torch::Dtype LlamaForSequenceClassificationImpl::dtype() const {
  return model->embed_tokens->weight.scalar_type();
}

LlamaForSequenceClassification load_reward_model(const std::filesystem::path& dir, const Placement& placement) {
  const LlamaConfig config = read_reward_model_config(dir);
  LlamaForSequenceClassification reward_model(config, /*num_labels=*/1);
  reward_model->to(placement.device, placement.dtype);
  WeightLoadOptions options;
  // Converted from a causal LM, a checkpoint may still carry the unused output projection.
  options.ignored_suffixes.push_back("lm_head.weight");
  load_module_weights(*reward_model, dir, options);
  reward_model->eval();
  return reward_model;
}

void save_reward_model(LlamaForSequenceClassification& model, const std::filesystem::path& dir,
                       std::int64_t max_shard_bytes) {
  LlamaConfig config = model->config();
  config.torch_dtype = dtype_name(model->dtype());
  config.validate(FieldChecker("", nullptr));
  if (config.vocab_size <= 0) {
    throw InputError("key 'vocab_size': must be set (positive) before writing " + (dir / kModelConfigFile).string());
  }
  json config_json = llama_config_to_hf_json(config);
  config_json["architectures"] = json::array({head_architecture_of(config.model_type)});
  config_json["num_labels"] = model->num_labels();
  json id2label = json::object();
  json label2id = json::object();
  for (std::int64_t label = 0; label < model->num_labels(); ++label) {
    const std::string name = "LABEL_" + std::to_string(label);
    id2label[std::to_string(label)] = name;
    label2id[name] = label;
  }
  config_json["id2label"] = id2label;
  config_json["label2id"] = label2id;

  std::filesystem::create_directories(dir);
  write_file_atomic(dir / kModelConfigFile, config_json.dump(2) + "\n");
  save_module_weights(*model, dir, max_shard_bytes);
}

}  // namespace selm
