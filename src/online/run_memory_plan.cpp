#include "selm/online/run_memory_plan.hpp"

#include <cstdio>
#include <nlohmann/json.hpp>

#include "selm/run/json_fields.hpp"
#include "selm/train/lora_config.hpp"
#include "selm/util/error.hpp"
#include "selm/util/system.hpp"

namespace selm {

namespace {

namespace fs = std::filesystem;

constexpr const char* kModelConfigFile = "config.json";

std::int64_t dtype_bytes(ComputeDtype dtype) { return dtype == ComputeDtype::float32 ? 4 : 2; }

// The policy's architecture: model.path's config.json, or, for a built-in task whose model is
// not prepared yet, the task's own settings, or the `architecture` section of `selm init`.
LlamaConfig policy_architecture(const Config& config, std::string& source) {
  if (!config.model.path.empty()) {
    const fs::path file = fs::path(config.model.path) / kModelConfigFile;
    if (fs::exists(file)) {
      source = file.string();
      return llama_config_from_hf_json(read_json_file(file), file.string());
    }
    if (config.task.name.empty()) throw InputError("key 'model.path': " + file.string() + " does not exist");
  }
  if (!config.task.name.empty()) {
    source = "task " + config.task.name + " (its model is prepared by the first run)";
    LlamaConfig model = config.task.model_architecture();
    model.vocab_size = config.task.vocab_size;  // the tokenizer it trains has this many pieces
    return model;
  }
  if (config.architecture.vocab_size > 0) {
    source = "the architecture section";
    return config.architecture;
  }
  throw InputError("key 'model.path': required (a Hugging Face model directory with config.json)");
}

// The reward model's architecture, with a one-output head in place of the vocabulary projection.
std::optional<LlamaConfig> reward_model_architecture(const Config& config) {
  const RewardModelJudgeConfig& judge = config.judge.reward_model;
  if (config.judge.type != JudgeType::reward_model) return std::nullopt;
  if (judge.device.kind != config.model.device.kind || judge.device.index.value_or(0) != config.model.device.index.value_or(0)) {
    return std::nullopt;
  }
  const fs::path file = fs::path(judge.path) / kModelConfigFile;
  if (!fs::exists(file)) throw InputError("key 'judge.reward_model.path': " + file.string() + " does not exist");
  LlamaConfig model = llama_config_from_hf_json(read_json_file(file), file.string());
  model.tie_word_embeddings = true;  // the embedding once; the score head is one row
  return model;
}

MemoryPlanInputs plan_inputs(const Config& config, const LlamaConfig& model, std::int64_t world_size) {
  MemoryPlanInputs in;
  in.model = model;
  const bool cuda = config.model.device.kind == DeviceKind::cuda;
  in.device = cuda ? PlanDevice::cuda : PlanDevice::cpu;
  in.weight_bytes = dtype_bytes(config.model.dtype);
  const TrainConfig& train = config.train;
  switch (train.precision) {
    case TrainPrecision::fp32: break;
    case TrainPrecision::bf16_mixed: in.autocast_bf16 = true; break;  // float32 master weights
    case TrainPrecision::bf16: in.weight_bytes = 2; break;
  }
  in.trainable_bytes = in.weight_bytes;
  in.gradient_checkpointing = train.gradient_checkpointing;
  in.lora = lora_plan(train.lora);
  in.attention = attention_for(in.device, in.weight_bytes == 4 && !in.autocast_bf16);
  in.train_batch_size = train.batch_size;
  in.rows_per_example = train.loss == PreferenceLossType::selm && train.alpha != 0.0 ? 3 : 2;
  in.max_length = train.max_length;
  in.max_prompt_length = train.max_prompt_length;
  in.generate_batch_size = config.generate.batch_size;
  in.generate_prompt_length = config.generate.max_prompt_length;
  in.max_new_tokens = config.generate.max_new_tokens;
  in.generate_bytes = dtype_bytes(config.model.dtype);
  in.evaluation_loads_reference = config.eval.kl_samples > 0 && in.lora.rank == 0;
  in.reward_model = reward_model_architecture(config);
  if (in.reward_model) {
    in.reward_model_bytes = dtype_bytes(config.judge.reward_model.dtype);
    in.reward_batch_size = config.judge.reward_model.batch_size;
    in.reward_length = config.generate.max_prompt_length + config.generate.max_new_tokens;
  }
  in.world_size = world_size;
  in.shard_optimizer_state = config.train.shard_optimizer_state;
  return in;
}

std::string device_text(const DeviceSpec& device) {
  if (device.kind == DeviceKind::cpu) return "cpu";
  return "cuda:" + std::to_string(device.index.value_or(0));
}

std::string thousands(std::int64_t value) {
  std::string digits = std::to_string(value), text;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) text += ',';
    text += digits[i];
  }
  return text;
}

std::string training_text(const MemoryPlanInputs& in) {
  std::string text = in.autocast_bf16 ? "bf16_mixed" : (in.weight_bytes == 2 ? "bf16" : "fp32");
  if (in.lora.rank > 0) {
    text += ", LoRA r=" + std::to_string(in.lora.rank) + " on";
    for (const auto& target : in.lora.target_modules) text += " " + target;
  }
  if (in.gradient_checkpointing) text += ", gradient checkpointing";
  text += "; micro-batch " + std::to_string(in.train_batch_size) + " examples x " + std::to_string(in.rows_per_example) +
          " rows x " + std::to_string(in.max_length) + " tokens";
  return text;
}

}  // namespace

RunMemoryPlan plan_run_memory(const Config& config, std::optional<std::int64_t> device_memory, std::int64_t world_size) {
  if (world_size < 1) throw InputError("--world-size: must be at least 1");
  RunMemoryPlan result;
  const LlamaConfig model = policy_architecture(config, result.model_source);
  result.inputs = plan_inputs(config, model, world_size);
  result.plan = plan_memory(result.inputs);
  result.device_name = device_text(config.model.device);
  if (device_memory) {
    result.capacity_bytes = device_memory;
    result.capacity_source = "--gpu-memory";
  } else if (config.model.device.kind == DeviceKind::cpu) {
    result.capacity_bytes = available_system_memory_bytes();
    result.capacity_source = "available system memory";
  } else {
    result.capacity_bytes = cuda_device_memory_bytes(config.model.device.index.value_or(0));
    result.capacity_source = "CUDA runtime";
  }
  return result;
}

std::string render_run_memory_plan(const RunMemoryPlan& run_plan) {
  const MemoryPlanInputs& in = run_plan.inputs;
  const MemoryPlan& plan = run_plan.plan;
  std::string text;
  char line[512];
  text += "model     " + thousands(plan.parameters) + " parameters (" + std::to_string(in.model.num_hidden_layers) +
          " layers, width " + std::to_string(in.model.hidden_size) + ", vocab " + std::to_string(in.model.vocab_size) +
          ") from " + run_plan.model_source + "\n";
  text += "device    " + run_plan.device_name +
          (run_plan.capacity_bytes ? ", " + format_bytes(*run_plan.capacity_bytes) + " (" + run_plan.capacity_source + ")"
                                   : ", capacity unknown (pass --gpu-memory)") +
          "\n";
  text += "training  " + training_text(in) + "\n";
  if (in.world_size > 1) {
    text += "ranks     " + std::to_string(in.world_size) + ": global micro-batch " +
            std::to_string(in.world_size * in.train_batch_size) +
            (in.shard_optimizer_state
                 ? " examples; every rank holds the whole model and its gradients, and 1/" +
                       std::to_string(in.world_size) + " of the optimiser state (train.shard_optimizer_state)"
                 : std::string(" examples; every rank holds the whole model, its gradients and optimiser state")) +
            ", so the figures below are per device\n";
  }
  text += "\n";
  for (const auto& part : plan.parts) {
    std::snprintf(line, sizeof line, "%-12s %12s  %s\n", part.name.c_str(), format_bytes(part.bytes).c_str(),
                  part.detail.c_str());
    text += line;
  }
  text += "\nphases   ";
  for (const auto& phase : plan.phases) text += " " + phase.name + " " + format_bytes(phase.bytes) + ";";
  text.back() = '\n';
  text += "peak      " + format_bytes(plan.peak_bytes) + " (" + plan.peak_phase + ")";
  if (!run_plan.capacity_bytes) return text + "\n";
  const std::int64_t capacity = *run_plan.capacity_bytes;
  if (run_plan.fits()) {
    return text + " of " + format_bytes(capacity) + ": fits, " + format_bytes(capacity - plan.peak_bytes) + " to spare\n";
  }
  text += " of " + format_bytes(capacity) + ": does NOT fit (" + format_bytes(plan.peak_bytes - capacity) + " over)\n";
  const auto suggestions = memory_suggestions(in);
  if (suggestions.empty()) return text + "no single setting lowers the peak; use a smaller model or a larger device\n";
  text += "settings that lower the peak:\n";
  for (const auto& suggestion : suggestions) {
    text += "  " + suggestion.setting + ": " + format_bytes(suggestion.peak_bytes) +
            (suggestion.peak_bytes <= capacity ? " (fits)" : "") + "\n";
  }
  return text;
}

nlohmann::json run_memory_plan_json(const RunMemoryPlan& run_plan) {
  const MemoryPlan& plan = run_plan.plan;
  nlohmann::json parts = nlohmann::json::object();
  for (const auto& part : plan.parts) parts[part.name] = part.bytes;
  nlohmann::json phases = nlohmann::json::object();
  for (const auto& phase : plan.phases) phases[phase.name] = phase.bytes;
  nlohmann::json value = {{"parameters", plan.parameters},
                          {"trainable_parameters", plan.trainable_parameters},
                          {"parts", parts},
                          {"phases", phases},
                          {"peak_bytes", plan.peak_bytes},
                          {"peak_phase", plan.peak_phase},
                          {"activations_without_checkpointing", plan.activations_without_checkpointing},
                          {"activations_with_checkpointing", plan.activations_with_checkpointing},
                          {"device", run_plan.device_name},
                          {"capacity_bytes", nullptr},
                          {"fits", run_plan.fits()}};
  if (run_plan.capacity_bytes) value["capacity_bytes"] = *run_plan.capacity_bytes;
  return value;
}

}  // namespace selm
