#include "selm/train/memory_plan.hpp"

#include <torch/version.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <stdexcept>

#include "selm/train/lora_config.hpp"
#include "selm/util/error.hpp"

namespace selm {

namespace {

constexpr std::int64_t kMiB = 1024 * 1024;
constexpr std::int64_t kGiB = 1024 * kMiB;

// What the process holds besides tensors: a base (LibTorch's code and data, thread stacks,
// BLAS buffers) and the allocator's slack, a share of the tensors' peak. On the CPU, with the
// mmap threshold that the command line fixes (configure_process_allocator, util/system.cpp),
// `selm bench train` on this project's machine measured RSS beyond the tensors' peak of 219 MB
// for a 0.9M model (131 MB of tensors) and 233, 231 and 237 MB for the 34M model at T=512 (full
// fine-tuning, checkpointing and LoRA: 4,624, 1,689 and 4,265 MB of tensors): a base of about
// 220 MB and almost no slack. (With glibc's dynamic threshold, the heap kept up to 100% more.)
// On CUDA: the context and kernel modules, and the caching allocator's fragmentation (not
// measured here).
constexpr std::int64_t kCpuRuntimeBaseBytes = 220 * kMiB;
constexpr double kCpuAllocatorSlack = 0.01;
constexpr std::int64_t kCudaRuntimeBaseBytes = 1 * kGiB;
constexpr double kCudaAllocatorSlack = 0.05;

double runtime_bytes(PlanDevice device, double tensor_bytes) {
  const bool cuda = device == PlanDevice::cuda;
  const double slack = (cuda ? kCudaAllocatorSlack : kCpuAllocatorSlack) * tensor_bytes;
  return static_cast<double>(cuda ? kCudaRuntimeBaseBytes : kCpuRuntimeBaseBytes) + std::floor(slack);
}

// Sizes are computed in double precision: exact for every real model and batch (below 2^53), and
// a hostile config (a batch of 2^62 rows, a vocabulary of 2^40) gives a huge plan that does not
// fit, where 64-bit products would wrap around to a small one that does.
using Bytes = double;

// Bytes as a 64-bit count, saturated at its largest value.
std::int64_t saturated(Bytes bytes) {
  constexpr Bytes largest = 9.2e18;  // just below 2^63
  return bytes >= largest ? std::int64_t{9'200'000'000'000'000'000} : static_cast<std::int64_t>(std::max<Bytes>(0, bytes));
}

struct Shapes {
  Bytes width, inner, layers, heads, kv_heads, head_dim, vocab;
  Bytes q_width() const { return heads * head_dim; }
  Bytes kv_width() const { return kv_heads * head_dim; }
};

Shapes shapes_of(const LlamaConfig& model) {
  return {Bytes(model.hidden_size),         Bytes(model.intermediate_size),   Bytes(model.num_hidden_layers),
          Bytes(model.num_attention_heads), Bytes(model.num_key_value_heads), Bytes(model.resolved_head_dim()),
          Bytes(model.vocab_size)};
}

// (in, out) of a projection by its Hugging Face name.
std::pair<Bytes, Bytes> projection_shape(const Shapes& s, const std::string& name) {
  if (name == "q_proj") return {s.width, s.q_width()};
  if (name == "k_proj" || name == "v_proj") return {s.width, s.kv_width()};
  if (name == "o_proj") return {s.q_width(), s.width};
  if (name == "gate_proj" || name == "up_proj") return {s.width, s.inner};
  if (name == "down_proj") return {s.inner, s.width};
  if (name == "lm_head") return {s.width, s.vocab};
  throw std::invalid_argument("memory plan: unknown projection '" + name + "'");
}

// Bytes autograd keeps per token and decoder layer, excluding the attention probabilities.
// fp32, as the CPU model computes it: the layer's input (kept by RMSNorm), the normed input
// (kept by q/k/v), the rotated q and k and the value (kept by attention), attention's output
// (kept by o_proj), the residual h and its normed copy, gate and up (kept by SwiGLU) and SwiGLU's
// output (kept by down_proj): 4C + 2(H D) + 2(n_kv D) + 3F floats.
// bf16_mixed: the residual stream stays fp32 (the embedding and the additions are not autocast),
// matmul outputs and their inputs' casts are bf16, and the rotary embedding promotes q and k to
// fp32 (its tables are fp32).
Bytes layer_bytes_per_token(const Shapes& s, const MemoryPlanInputs& in) {
  Bytes bytes;
  if (in.autocast_bf16) {
    bytes = 2 * s.width * 4 + (2 * s.width + 2 * s.q_width() + 2 * s.kv_width() + 3 * s.inner) * 2 +
            (s.q_width() + s.kv_width()) * 4;
  } else {
    bytes = (4 * s.width + 2 * s.q_width() + 2 * s.kv_width() + 3 * s.inner) * in.weight_bytes;
  }
  if (in.lora.rank > 0) {
    const Bytes activation_bytes = in.autocast_bf16 ? 2 : in.weight_bytes;
    for (const auto& target : in.lora.target_modules) {
      if (target == "lm_head") continue;  // counted with the head
      const auto [input_width, output_width] = projection_shape(s, target);
      (void)output_width;
      // A's output, kept by B; with dropout also the dropped input and its mask.
      bytes += in.lora.rank * activation_bytes;
      if (in.lora.dropout) bytes += input_width * (activation_bytes + 1);
    }
  }
  return bytes;
}

// Attention probabilities kept per layer for backward, for `rows` rows of `length` tokens.
Bytes attention_bytes_per_layer(const Shapes& s, const MemoryPlanInputs& in, Bytes rows,
                                       Bytes length) {
  switch (in.attention) {
    case PlanAttention::sliced: return 0;
    case PlanAttention::composed:
      // fp32 softmax output, plus its bf16 cast for the matmul with v under autocast.
      return rows * s.heads * length * length * (in.autocast_bf16 ? 6 : 4);
    case PlanAttention::fused: return rows * s.heads * length * 4;  // the row log-sum-exps
  }
  return 0;
}

struct TrainingMemory {
  Bytes activations_plain = 0, activations_checkpointed = 0;
  Bytes head = 0;       // logits of the response positions and their backward
  Bytes workspace = 0;  // gradients flowing through one layer in backward
};

TrainingMemory training_memory(const Shapes& s, const MemoryPlanInputs& in) {
  const Bytes rows = Bytes(in.train_batch_size) * in.rows_per_example;
  const Bytes length = in.max_length;
  const Bytes tokens = rows * length;
  const Bytes prompt = std::min(Bytes(in.max_prompt_length), length - 1);
  const Bytes response_tokens = rows * (length - prompt);
  const Bytes residual_bytes = in.autocast_bf16 ? 4 : in.weight_bytes;
  const Bytes activation_bytes = in.autocast_bf16 ? 2 : in.weight_bytes;

  const Bytes per_layer = tokens * layer_bytes_per_token(s, in) + attention_bytes_per_layer(s, in, rows, length);
  const Bytes mask = rows * length * length;  // the (rows, T, T) bool mask, shared by the layers
  const Bytes final_norm = tokens * s.width * residual_bytes + response_tokens * s.width * activation_bytes;
  TrainingMemory memory;
  memory.activations_plain = s.layers * per_layer + mask + final_norm;
  // Checkpointed: each layer keeps its input only; one layer at a time is recomputed in backward.
  memory.activations_checkpointed = s.layers * tokens * s.width * residual_bytes + per_layer + mask + final_norm;
  // fp32 logits kept by log-sum-exp and gather, the softmax formed in backward and the logits'
  // gradient; under autocast also the bf16 logits' gradient.
  memory.head = response_tokens * s.vocab * (in.autocast_bf16 ? 14 : 12);
  if (in.lora.rank > 0 &&
      std::find(in.lora.target_modules.begin(), in.lora.target_modules.end(), "lm_head") != in.lora.target_modules.end()) {
    memory.head += response_tokens * in.lora.rank * activation_bytes;
  }
  memory.workspace = tokens * (2 * s.width + 3 * s.inner) * 4;
  return memory;
}

std::string gib_text(Bytes bytes) { return format_bytes(saturated(bytes)); }
// An integer count as text, exact below 2^53.
std::string count_text(Bytes count) { return std::to_string(saturated(count)); }

}  // namespace

PlanAttention attention_for(PlanDevice device, bool float32_compute) {
  if (device == PlanDevice::cuda) return TORCH_VERSION_MAJOR >= 2 ? PlanAttention::fused : PlanAttention::composed;
  return float32_compute ? PlanAttention::sliced : PlanAttention::composed;
}

LoraPlan lora_plan(const LoraConfig& lora) {
  LoraPlan plan;
  if (const auto spec = lora_adapter_spec(lora, /*init_seed=*/0)) {
    plan.rank = spec->rank;
    plan.target_modules = spec->target_modules;
    plan.dropout = spec->dropout > 0;
  }
  return plan;
}

const MemoryPart& MemoryPlan::part(const std::string& name) const {
  for (const auto& entry : parts) {
    if (entry.name == name) return entry;
  }
  throw std::out_of_range("memory plan has no part '" + name + "'");
}

namespace {

Bytes parameter_count(const LlamaConfig& model) {
  const Shapes s = shapes_of(model);
  const Bytes per_layer = s.width * s.q_width() * 2 + s.width * s.kv_width() * 2 + 3 * s.width * s.inner +
                                 2 * s.width;
  return s.vocab * s.width * (model.tie_word_embeddings ? 1 : 2) + s.layers * per_layer + s.width;
}

Bytes adapter_parameter_count(const LlamaConfig& model, const LoraPlan& lora) {
  if (lora.rank <= 0) return 0;
  const Shapes s = shapes_of(model);
  Bytes count = 0;
  for (const auto& target : lora.target_modules) {
    const auto [input_width, output_width] = projection_shape(s, target);
    count += Bytes(lora.rank) * (input_width + output_width) * (target == "lm_head" ? 1 : s.layers);
  }
  return count;
}

}  // namespace

std::int64_t llama_parameter_count(const LlamaConfig& model) { return saturated(parameter_count(model)); }

std::int64_t lora_parameter_count(const LlamaConfig& model, const LoraPlan& lora) {
  return saturated(adapter_parameter_count(model, lora));
}

MemoryPlan plan_memory(const MemoryPlanInputs& in) {
  const Shapes s = shapes_of(in.model);
  MemoryPlan plan;
  const Bytes base_parameters = parameter_count(in.model);
  const Bytes adapter_parameters = adapter_parameter_count(in.model, in.lora);
  const Bytes trainable_parameters = in.lora.rank > 0 ? adapter_parameters : base_parameters;
  plan.parameters = saturated(base_parameters + adapter_parameters);
  plan.trainable_parameters = saturated(trainable_parameters);
  const bool lora = in.lora.rank > 0;
  // Adapters are trained in the trainable dtype; the base weights keep their storage dtype.
  const Bytes weights = base_parameters * in.weight_bytes + adapter_parameters * in.trainable_bytes;
  const Bytes gradients = trainable_parameters * in.trainable_bytes;
  // ZeRO-1 keeps 1/world_size of the moments on each rank (rounded up: shards are whole parameters).
  const Bytes moment_shards = in.shard_optimizer_state ? Bytes(std::max<std::int64_t>(1, in.world_size)) : 1;
  const Bytes moments = std::ceil(2 * trainable_parameters * in.trainable_bytes / moment_shards);
  // Autocast caches the bf16 cast of every trainable weight a matmul reads (not the embedding,
  // not the norms); frozen base weights are cast anew at each use, one matrix at a time.
  const Bytes embedding = s.vocab * s.width;
  const Bytes matmul_weights = base_parameters - embedding * (in.model.tie_word_embeddings ? 0 : 1) -
                                      (2 * s.layers + 1) * s.width;
  Bytes autocast_copies = 0;
  if (in.autocast_bf16) autocast_copies = lora ? adapter_parameters * 2 + std::max(s.vocab, s.inner) * s.width * 2 : matmul_weights * 2;
  const TrainingMemory train = training_memory(s, in);
  const Bytes activations_plain = train.activations_plain + train.head + train.workspace;
  const Bytes activations_checkpointed = train.activations_checkpointed + train.head + train.workspace;
  plan.activations_without_checkpointing = saturated(activations_plain);
  plan.activations_with_checkpointing = saturated(activations_checkpointed);
  const Bytes activations = in.gradient_checkpointing ? activations_checkpointed : activations_plain;
  // AdamW's update forms temporaries the size of the largest parameter it updates.
  const Bytes largest_trainable =
      lora ? std::max(s.vocab, s.inner) * in.lora.rank : std::max(s.vocab, s.inner) * s.width;
  const Bytes optimizer_temporaries = 2 * largest_trainable * 4;

  const Bytes cache_slots = Bytes(in.generate_prompt_length) + Bytes(in.max_new_tokens);
  const Bytes kv_cache = 2 * s.layers * in.generate_batch_size * s.kv_width() * cache_slots * in.generate_bytes;
  // Prefill without autograd: one layer's activations at a time, the prompt's attention scores
  // (the CPU kernel works in per-thread scratch instead), and the logits and probabilities of
  // the last position.
  const Bytes prefill_tokens = Bytes(in.generate_batch_size) * in.generate_prompt_length;
  Bytes generation_work = prefill_tokens * (3 * s.width + 3 * s.inner) * in.generate_bytes +
                                 in.generate_batch_size * s.vocab * 4 * 2;
  if (in.attention == PlanAttention::composed) {
    generation_work += Bytes(in.generate_batch_size) * s.heads * in.generate_prompt_length * in.generate_prompt_length * 4 * 2;
  }

  Bytes judge = 0;
  if (in.reward_model) {
    const Shapes r = shapes_of(*in.reward_model);
    judge = parameter_count(*in.reward_model) * in.reward_model_bytes +
            Bytes(in.reward_batch_size) * in.reward_length * (3 * r.width + 3 * r.inner) * in.reward_model_bytes;
    if (in.attention == PlanAttention::composed) {
      judge += Bytes(in.reward_batch_size) * r.heads * in.reward_length * in.reward_length * 4 * 2;
    }
  }
  const Bytes reference = in.evaluation_loads_reference ? base_parameters * in.generate_bytes : 0;
  // The tensors each phase holds at its peak.
  std::vector<std::pair<std::string, Bytes>> phases = {
      {"generation", weights + kv_cache + generation_work},
      {"training", weights + gradients + moments + autocast_copies + std::max(activations, optimizer_temporaries)},
      {"evaluation", weights + reference + kv_cache + generation_work},
  };
  if (in.reward_model) phases.insert(phases.begin() + 1, {"judging", weights + judge});
  const auto largest = std::max_element(phases.begin(), phases.end(),
                                        [](const auto& a, const auto& b) { return a.second < b.second; });
  const Bytes runtime = runtime_bytes(in.device, largest->second);
  for (const auto& [name, bytes] : phases) plan.phases.push_back({name, saturated(bytes + runtime_bytes(in.device, bytes))});
  plan.peak_bytes = saturated(largest->second + runtime);
  plan.peak_phase = largest->first;

  auto precision_name = [&] {
    if (in.autocast_bf16) return std::string("float32 master, bf16 compute");
    return std::string(in.weight_bytes == 2 ? "bfloat16" : "float32");
  };
  plan.parts.push_back({"weights", saturated(weights),
                        std::to_string(plan.parameters) + " parameters, " + precision_name() +
                            (lora ? " (" + count_text(adapter_parameters) + " in adapters)" : "")});
  plan.parts.push_back({"gradients", saturated(gradients), std::to_string(plan.trainable_parameters) + " trainable parameters"});
  plan.parts.push_back({"optimizer", saturated(moments + autocast_copies + optimizer_temporaries),
                        "AdamW moments " + gib_text(moments) +
                            (autocast_copies > 0 ? ", bf16 weight copies " + gib_text(autocast_copies) : "") +
                            ", update temporaries " + gib_text(optimizer_temporaries)});
  plan.parts.push_back(
      {"activations", saturated(activations),
       count_text(Bytes(in.train_batch_size) * in.rows_per_example) + " rows x " + std::to_string(in.max_length) +
           " tokens; " + gib_text(activations_plain) + " without checkpointing, " +
           gib_text(activations_checkpointed) + " with (logits " + gib_text(train.head) + ")"});
  plan.parts.push_back({"kv_cache", saturated(kv_cache + generation_work),
                        std::to_string(in.generate_batch_size) + " rows x " + count_text(cache_slots) +
                            " slots: cache " + gib_text(kv_cache) + ", prefill and logits " + gib_text(generation_work)});
  if (in.reward_model) plan.parts.push_back({"judge", saturated(judge), "reward model weights and one scoring batch"});
  if (reference > 0) plan.parts.push_back({"reference", saturated(reference), "the reference model evaluation loads for KL"});
  plan.parts.push_back({"runtime", saturated(runtime),
                        in.device == PlanDevice::cuda ? "CUDA context and kernels, allocator fragmentation"
                                                      : "LibTorch code, threads and the allocator's retained memory"});
  return plan;
}

std::vector<MemorySuggestion> memory_suggestions(const MemoryPlanInputs& inputs) {
  std::vector<MemorySuggestion> suggestions;
  const std::int64_t current = plan_memory(inputs).peak_bytes;
  auto consider = [&](const std::string& setting, const MemoryPlanInputs& changed) {
    const std::int64_t peak = plan_memory(changed).peak_bytes;
    if (peak < current) suggestions.push_back({setting, peak});
  };
  if (inputs.lora.rank == 0) {
    MemoryPlanInputs changed = inputs;
    changed.lora.rank = 16;
    changed.lora.target_modules = {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"};
    consider("train.lora.rank=16 train.lora.target_modules=[all-linear]", changed);
  }
  if (!inputs.gradient_checkpointing) {
    MemoryPlanInputs changed = inputs;
    changed.gradient_checkpointing = true;
    consider("train.gradient_checkpointing=true", changed);
  }
  if (inputs.train_batch_size > 1) {
    MemoryPlanInputs changed = inputs;
    changed.train_batch_size = std::max<std::int64_t>(1, inputs.train_batch_size / 2);
    consider("train.batch_size=" + std::to_string(changed.train_batch_size) +
                 " with twice the train.gradient_accumulation_steps (same global batch)",
             changed);
  }
  if (inputs.generate_batch_size > 1) {
    MemoryPlanInputs changed = inputs;
    changed.generate_batch_size = std::max<std::int64_t>(1, inputs.generate_batch_size / 2);
    consider("generate.batch_size=" + std::to_string(changed.generate_batch_size), changed);
  }
  std::sort(suggestions.begin(), suggestions.end(),
            [](const MemorySuggestion& a, const MemorySuggestion& b) { return a.peak_bytes < b.peak_bytes; });
  return suggestions;
}

std::string format_bytes(std::int64_t bytes) {
  char text[32];
  if (bytes >= kGiB) {
    std::snprintf(text, sizeof text, "%.2f GiB", static_cast<double>(bytes) / static_cast<double>(kGiB));
  } else {
    std::snprintf(text, sizeof text, "%.1f MiB", static_cast<double>(bytes) / static_cast<double>(kMiB));
  }
  return text;
}

std::int64_t parse_memory_size(const std::string& text, const std::string& what) {
  std::size_t end = 0;
  double value = 0;
  try {
    value = std::stod(text, &end);
  } catch (const std::exception&) {
    throw InputError(what + ": '" + text + "' is not a memory size (e.g. 80GiB, 81920MiB, 40GB)");
  }
  std::string unit = text.substr(end);
  unit.erase(std::remove_if(unit.begin(), unit.end(), [](unsigned char c) { return std::isspace(c); }), unit.end());
  for (auto& c : unit) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  double scale = 0;
  if (unit.empty() || unit == "b") scale = 1;
  else if (unit == "kib" || unit == "k") scale = 1024.0;
  else if (unit == "mib" || unit == "m") scale = static_cast<double>(kMiB);
  else if (unit == "gib" || unit == "g") scale = static_cast<double>(kGiB);
  else if (unit == "tib" || unit == "t") scale = static_cast<double>(kGiB) * 1024.0;
  else if (unit == "kb") scale = 1e3;
  else if (unit == "mb") scale = 1e6;
  else if (unit == "gb") scale = 1e9;
  else if (unit == "tb") scale = 1e12;
  if (scale == 0 || !(value > 0) || !std::isfinite(value) || value * scale > 9.0e18) {
    throw InputError(what + ": '" + text + "' is not a memory size (e.g. 80GiB, 81920MiB, 40GB)");
  }
  return static_cast<std::int64_t>(value * scale);
}

}  // namespace selm
