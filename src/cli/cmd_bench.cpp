#include <algorithm>
#include <chrono>
#include <iostream>
#include <numeric>
#include <optional>
#include <random>

#include <nlohmann/json.hpp>
#include <torch/csrc/autograd/profiler_legacy.h>
#include <torch/torch.h>

#include "commands.hpp"
#include "selm/generate/generator.hpp"
#include "selm/judge/judge_factory.hpp"
#include "selm/model/llama_checkpoint.hpp"
#include "selm/train/losses.hpp"
#include "selm/train/optimizer.hpp"
#include "selm/train/gradient_reducer.hpp"
#include "selm/train/optimizer_shards.hpp"
#include "selm/train/preference_step.hpp"
#include "selm/train/sequence_logps.hpp"
#include "selm/train/training_loop.hpp"
#include "selm/train/memory_plan.hpp"
#include "selm/train/training_precision.hpp"
#include "selm/train/training_runtime_options.hpp"
#include "selm/util/cpu_threads.hpp"
#include "selm/util/error.hpp"
#include "selm/util/system.hpp"
#include "selm/util/tensor_memory.hpp"

namespace selm::cli {

namespace {

// Both CPU thread pools as this run used them (util/cpu_threads.hpp explains the rule).
nlohmann::json thread_pools_json(const CpuThreadPools& pools) {
  return {{"cores", pools.cores},
          {"torch_threads", pools.torch_threads},
          {"torch_interop_threads", pools.torch_interop_threads},
          {"blas", blas_threading_name(pools.blas)},
          {"blas_threads", pools.blas_threads},
          {"blas_config", pools.blas_config}};
}

constexpr double kMiB = 1024.0 * 1024.0;

std::int64_t tensor_bytes(const torch::Tensor& tensor) {
  return tensor.defined() ? tensor.numel() * static_cast<std::int64_t>(tensor.element_size()) : 0;
}

using BenchClock = std::chrono::steady_clock;

double seconds_between(BenchClock::time_point start, BenchClock::time_point end) {
  return std::chrono::duration<double>(end - start).count();
}

void synchronize(const torch::Device& device) {
  if (device.is_cuda()) torch::cuda::synchronize(device.index() < 0 ? -1 : device.index());
}

// The best of five timed calls of `work` on `device`, after one untimed call, in seconds.
template <typename Work>
double best_of_five_seconds(const torch::Device& device, const Work& work) {
  work();  // warm-up: pages touched, threads started
  synchronize(device);
  double best_seconds = 0;
  for (int repeat = 0; repeat < 5; ++repeat) {
    const auto start = BenchClock::now();
    work();
    synchronize(device);
    const double seconds = seconds_between(start, BenchClock::now());
    if (repeat == 0 || seconds < best_seconds) best_seconds = seconds;
  }
  return best_seconds;
}

// The machine's memory read bandwidth as this process sees it: the best of a few sums of a
// buffer eight times the size of a large L3 cache, with the current threads, in bytes/s.
double measure_read_bandwidth(const torch::Device& device) {
  torch::NoGradGuard no_grad;
  const std::int64_t floats = 64 * 1024 * 1024;  // 256 MiB
  const torch::Tensor buffer = torch::ones({floats}, torch::TensorOptions().dtype(torch::kFloat32).device(device));
  torch::Tensor total;
  const double seconds = best_of_five_seconds(device, [&] { total = buffer.sum(); });
  return static_cast<double>(tensor_bytes(buffer)) / seconds;
}

struct BenchGenerateArgs {
  std::string model;
  std::int64_t batch = 1;
  std::int64_t prompt_length = 64;
  std::int64_t new_tokens = 128;
  std::int64_t repeats = 3;
  std::string device = "cpu";
  std::string dtype = "float32";
  std::int64_t threads = 0;
  std::string profile;  // chrome-trace file of the last timed run, "" = none
};

// Greedy decoding of random prompts with no stop token, so every row decodes exactly
// new_tokens tokens; the best of `repeats` timed runs after one warm-up run is reported.
void run_bench_generate(const BenchGenerateArgs& args) {
  if (args.batch < 1 || args.prompt_length < 1 || args.new_tokens < 1 || args.repeats < 1) {
    throw InputError("--batch, --prompt-len, --new-tokens and --repeats must be positive");
  }
  const CpuThreadPools pools = configure_cpu_threads(args.threads);
  const Placement placement = parse_placement(args.device, args.dtype, "--device", "--dtype");
  LlamaForCausalLM model = load_llama(args.model, placement);
  const LlamaConfig& config = model->config();

  torch::manual_seed(0);
  const torch::Tensor random_ids = torch::randint(3, config.vocab_size, {args.batch, args.prompt_length}, torch::kInt64);
  std::vector<std::vector<std::int64_t>> prompts;
  for (std::int64_t row = 0; row < args.batch; ++row) {
    const torch::Tensor ids = random_ids[row].contiguous();
    prompts.emplace_back(ids.data_ptr<std::int64_t>(), ids.data_ptr<std::int64_t>() + args.prompt_length);
  }
  SamplingConfig sampling;
  sampling.temperature = 0.0;
  sampling.batch_size = args.batch;
  sampling.max_new_tokens = args.new_tokens;
  sampling.max_prompt_length = args.prompt_length;
  Generator generator(model, sampling, /*stop_token_ids=*/{});

  generator.generate(prompts);  // warm-up: allocator, thread pool, caches
  GenerationStats best;
  for (std::int64_t repeat = 0; repeat < args.repeats; ++repeat) {
    std::optional<torch::autograd::profiler::RecordProfile> profiler;
    if (!args.profile.empty() && repeat + 1 == args.repeats) profiler.emplace(args.profile);
    generator.generate(prompts);
    if (repeat == 0 || generator.stats().total_seconds < best.total_seconds) best = generator.stats();
  }
  std::int64_t parameters = 0, parameter_bytes = 0;
  for (const auto& parameter : model->parameters()) {
    parameters += parameter.numel();
    parameter_bytes += tensor_bytes(parameter);
  }
  const double decode_steps = static_cast<double>(std::max<std::int64_t>(1, best.decode_steps));
  // What one decode step must read from memory at least: every weight but the embedding table,
  // of which it reads one row per sequence (unless the output projection is tied to it), and the
  // key/value cache of every layer at the mean length of the decode steps.
  const std::int64_t embedding_bytes = tensor_bytes(model->model->embed_tokens->weight);
  const double weight_bytes = static_cast<double>(parameter_bytes - (config.tie_word_embeddings ? 0 : embedding_bytes));
  const double mean_cache_length = static_cast<double>(args.prompt_length) + decode_steps / 2.0;
  const double cache_bytes = 2.0 * static_cast<double>(config.num_hidden_layers * config.num_key_value_heads *
                                                       config.resolved_head_dim() * args.batch) *
                             mean_cache_length * static_cast<double>(model->model->embed_tokens->weight.element_size());
  // Read before the bandwidth measurement, whose buffer would otherwise be the peak.
  const double peak_rss_mb = static_cast<double>(peak_rss_bytes()) / kMiB;
  const double bandwidth = measure_read_bandwidth(placement.device);
  const double bound_ms = 1000.0 * (weight_bytes + cache_bytes) / bandwidth;
  const double ms_per_step = 1000.0 * best.decode_seconds / decode_steps;
  // Decode steps produce one token per row; the first token of each row comes from prefill.
  const double decode_tokens = decode_steps * static_cast<double>(args.batch);
  nlohmann::json result = {
      {"benchmark", "generate"},
      {"model", args.model},
      {"parameters", parameters},
      {"device", args.device},
      {"dtype", args.dtype},
      {"threads", torch::get_num_threads()},
      {"thread_pools", thread_pools_json(pools)},
      {"batch", args.batch},
      {"prompt_len", args.prompt_length},
      {"new_tokens", args.new_tokens},
      {"generated_tokens", best.generated_tokens},
      {"tokens_per_second", static_cast<double>(best.generated_tokens) / best.total_seconds},
      {"decode_tokens_per_second", decode_tokens / best.decode_seconds},
      {"ms_per_decode_step", ms_per_step},
      {"bytes_read_per_decode_step", weight_bytes + cache_bytes},
      {"memory_read_bandwidth_gb_per_s", bandwidth / 1e9},
      {"bandwidth_bound_ms_per_decode_step", bound_ms},
      {"bandwidth_bound_fraction", bound_ms / ms_per_step},
      {"prefill_ms", 1000.0 * best.prefill_seconds},
      {"total_seconds", best.total_seconds},
      {"peak_rss_mb", peak_rss_mb},
  };
  std::cout << result.dump(2) << "\n";
}


struct BenchTrainArgs {
  std::string model;
  std::int64_t batch = 8;
  std::int64_t sequence_length = 256;
  std::int64_t steps = 5;
  std::int64_t warmup_steps = 1;
  std::string loss = "selm";
  std::string device = "cpu";
  std::int64_t threads = 0;
  std::int64_t gemm_size = 2048;
  std::string profile;  // chrome-trace file of the timed steps, "" = none
  std::string precision = "fp32";
  bool gradient_checkpointing = false;
  bool shard_optimizer_state = false;
  std::int64_t lora_rank = 0;                                 // 0 = train every weight
  std::vector<std::string> lora_targets = {"q_proj", "v_proj"};  // as train.lora.target_modules
};

// The machine's fp32 matrix-multiply peak as this process sees it: the best of a few timed
// (n x n) @ (n x n) products on `device` with the current thread count, in FLOP/s (2 n^3 each).
double measure_gemm_flops(std::int64_t n, const torch::Device& device) {
  torch::NoGradGuard no_grad;
  const auto options = torch::TensorOptions().dtype(torch::kFloat32).device(device);
  const torch::Tensor a = torch::randn({n, n}, options);
  const torch::Tensor b = torch::randn({n, n}, options);
  torch::Tensor product;
  const double seconds = best_of_five_seconds(device, [&] { product = torch::mm(a, b); });
  return 2.0 * static_cast<double>(n) * static_cast<double>(n) * static_cast<double>(n) / seconds;
}

// B random preference examples: a prompt of T/2 tokens shared by chosen, rejected and y_ref
// responses of the remaining tokens, and constant reference log-probs, in the trainer's types.
struct BenchPreferenceData {
  std::vector<TokenizedPreference> examples;
  std::vector<PreferenceRecord> records;
};

BenchPreferenceData random_preference_data(std::int64_t batch, std::int64_t length, std::int64_t prompt_length,
                                           std::int64_t vocab_size, const torch::Device& device) {
  torch::manual_seed(0);
  const auto id_options = torch::TensorOptions().dtype(torch::kInt64).device(device);
  const auto value_options = torch::TensorOptions().dtype(torch::kFloat32).device(device);
  const std::int64_t lowest_id = std::min<std::int64_t>(3, vocab_size - 1);
  const auto ids_of = [](const torch::Tensor& row) {  // row: (L) int64
    const torch::Tensor cpu = row.to(torch::kCPU).contiguous();
    return std::vector<std::int64_t>(cpu.data_ptr<std::int64_t>(), cpu.data_ptr<std::int64_t>() + cpu.numel());
  };
  const auto values_of = [](const torch::Tensor& values) {  // values: (B) float32
    const torch::Tensor cpu = values.to(torch::kCPU).to(torch::kFloat64).contiguous();
    return std::vector<double>(cpu.data_ptr<double>(), cpu.data_ptr<double>() + cpu.numel());
  };
  const torch::Tensor prompts = torch::randint(lowest_id, vocab_size, {batch, prompt_length}, id_options);
  std::vector<torch::Tensor> responses;  // chosen, rejected, y_ref: each (B, T - P)
  for (int kind = 0; kind < 3; ++kind) {
    responses.push_back(torch::randint(lowest_id, vocab_size, {batch, length - prompt_length}, id_options));
  }
  const std::vector<double> reference_chosen = values_of(-torch::rand({batch}, value_options) * 10 - 100);
  const std::vector<double> reference_rejected = values_of(-torch::rand({batch}, value_options) * 10 - 100);
  const std::vector<double> reference_y_ref = values_of(-torch::rand({batch}, value_options) * 10 - 100);

  BenchPreferenceData data;
  for (std::int64_t row = 0; row < batch; ++row) {
    TokenizedPreference example;
    example.prompt = ids_of(prompts[row]);
    example.chosen = ids_of(responses[0][row]);
    example.rejected = ids_of(responses[1][row]);
    example.reference_response = ids_of(responses[2][row]);
    data.examples.push_back(std::move(example));
    PreferenceRecord record;
    record.line = static_cast<std::size_t>(row + 1);
    record.reference_response = std::string();  // the ids above stand for it
    const auto index = static_cast<std::size_t>(row);
    record.reference_logps = ReferenceLogps{reference_chosen[index], reference_rejected[index], reference_y_ref[index]};
    data.records.push_back(std::move(record));
  }
  return data;
}

// Preference-training steps as the trainer takes them: run_optimizer_step (the training loop's
// step) with preference_step_function (the preference trainer's) on one micro-batch of B random
// examples (sequence T, prompt T/2 shared by the rows): one forward pass over the chosen, rejected
// and (when the loss reads it) y_ref rows, response log-probs, the preference loss against
// constant reference log-probs, backward, gradient clipping and an AdamW step.
// Model FLOPs per step (what is computed; causal masking saves nothing in this kernel):
//   6 * (parameters other than the embedding and the output projection) * rows * T
//   + 6 * output projection parameters * rows * (T - P)       (only response positions are projected)
//   + 12 * layers * (heads * head_dim) * T^2 * rows             (q k^T and attention @ v, forward + backward)
// with rows = 3B (2B for a loss without y_ref); MFU = model FLOPs per second / the measured GEMM peak.
// What `selm plan` expects of this shape's training, beside what the benchmark measured: the
// training phase (weights, gradients, optimiser state, activations and the runtime) against the
// peak RSS.
nlohmann::json planned_training_memory(LlamaForCausalLM& model, const TrainConfig& train, const Placement& placement,
                                       std::int64_t batch, std::int64_t rows_per_example, std::int64_t length,
                                       std::int64_t prompt_length) {
  MemoryPlanInputs inputs;
  inputs.model = model->config();
  inputs.device = placement.device.is_cuda() ? PlanDevice::cuda : PlanDevice::cpu;
  inputs.autocast_bf16 = uses_bf16_autocast(train.precision);
  inputs.weight_bytes = inputs.trainable_bytes = train.precision == TrainPrecision::bf16 ? 2 : 4;
  inputs.attention = attention_for(inputs.device, inputs.weight_bytes == 4 && !inputs.autocast_bf16);
  inputs.gradient_checkpointing = train.gradient_checkpointing;
  inputs.lora = lora_plan(train.lora);
  inputs.train_batch_size = batch;
  inputs.rows_per_example = rows_per_example;
  inputs.max_length = length;
  inputs.max_prompt_length = prompt_length;
  const MemoryPlan plan = plan_memory(inputs);
  std::int64_t training_phase = 0;
  for (const auto& phase : plan.phases) {
    if (phase.name == "training") training_phase = phase.bytes;
  }
  const double measured = static_cast<double>(peak_rss_bytes());
  return {{"training_phase_mb", static_cast<double>(training_phase) / kMiB},
          {"activations_mb", static_cast<double>(plan.part("activations").bytes) / kMiB},
          {"estimate_over_peak_rss", static_cast<double>(training_phase) / measured}};
}

void run_bench_train(const BenchTrainArgs& args) {
  if (args.batch < 1 || args.steps < 1 || args.warmup_steps < 0 || args.gemm_size < 1) {
    throw InputError("--batch, --steps and --gemm-size must be positive and --warmup non-negative");
  }
  if (args.sequence_length < 2) throw InputError("--seq must be at least 2 (a prompt and a response token)");
  const CpuThreadPools pools = configure_cpu_threads(args.threads);
  install_counting_cpu_allocator();
  // Under `selm launch` (or srun) the ranks split each step's batch, as data-parallel training does.
  Config launch_config;
  launch_config.model.device = DeviceSpec::parse(args.device).value_or(DeviceSpec{});
  const ParallelContext parallel = process_parallel_context(launch_config);
  if (args.batch % parallel.world_size != 0) {
    throw InputError("--batch " + std::to_string(args.batch) + " must be a multiple of the " +
                     std::to_string(parallel.world_size) + " ranks");
  }
  PreferenceLossOptions loss_options;
  loss_options.type = parse_enum<PreferenceLossType>(args.loss, "--loss");
  const Placement placement = parse_placement(args.device, "float32", "--device", "--dtype");
  const double gemm_flops = measure_gemm_flops(args.gemm_size, placement.device);

  TrainConfig train_config;
  train_config.learning_rate = 1e-5;
  train_config.precision = parse_enum<TrainPrecision>(args.precision, "--precision");
  train_config.gradient_checkpointing = args.gradient_checkpointing;
  train_config.shard_optimizer_state = args.shard_optimizer_state;
  train_config.lora.rank = args.lora_rank;
  train_config.lora.target_modules = args.lora_targets;
  train_config.lora.validate(FieldChecker("train.lora.", nullptr));  // the keys the flags stand for
  LlamaForCausalLM model = load_llama(args.model, placement, training_runtime_options(train_config));
  model->train();
  const LlamaConfig& config = model->config();
  const TrainingDtypeGuard training_dtype(*model, train_config.precision);
  const std::vector<torch::Tensor> trainable = trainable_parameters(*model);
  std::optional<OptimizerShards> optimizer_shards;
  if (args.shard_optimizer_state && parallel.is_distributed()) optimizer_shards.emplace(trainable, parallel.world_size);
  const auto optimizer = optimizer_shards ? make_rank_adamw(*model, train_config, *optimizer_shards, parallel.rank)
                                          : make_adamw(*model, train_config);
  std::optional<GradientReducer> gradient_reducer;
  if (parallel.is_distributed()) gradient_reducer.emplace(trainable, parallel, "bench: gradient all-reduce");
  DataParallelStep data_parallel;
  data_parallel.parallel = parallel;
  data_parallel.per_rank_batch = args.batch / parallel.world_size;
  data_parallel.gradient_reducer = gradient_reducer ? &*gradient_reducer : nullptr;
  data_parallel.optimizer_shards = optimizer_shards ? &*optimizer_shards : nullptr;

  const std::int64_t batch = args.batch;
  const std::int64_t length = args.sequence_length;
  const std::int64_t prompt_length = std::max<std::int64_t>(1, length / 2);
  const std::int64_t rows = (loss_uses_reference_response(loss_options) ? 3 : 2) * batch;
  const BenchPreferenceData data = random_preference_data(batch, length, prompt_length, config.vocab_size, placement.device);
  // Every row has T tokens, so no row is padded and the pad id is never used.
  const StepFunction step = with_training_precision(
      preference_step_function(model, data.examples, data.records, loss_options, /*pad_id=*/0,
                               train_config.average_logps),
      train_config.precision, placement.device.type());
  std::vector<std::int64_t> all_examples(static_cast<std::size_t>(batch));
  std::iota(all_examples.begin(), all_examples.end(), std::int64_t{0});
  const std::vector<std::vector<std::int64_t>> micro_batches = {all_examples};

  double last_loss = 0;
  double collective_seconds = 0;  // summed over the steps, warm-up included until reset
  const auto train_step = [&]() {
    const OptimizerStepResult result =
        run_optimizer_step(*optimizer, trainable, train_config.max_grad_norm, micro_batches, 0, step, data_parallel);
    last_loss = result.metrics.at("loss");
    collective_seconds += result.collective_seconds;
  };
  optimizer->zero_grad();
  for (std::int64_t warmup = 0; warmup < args.warmup_steps; ++warmup) train_step();
  synchronize(placement.device);
  // Between steps the tensors held are the weights, their gradients, the optimiser's moments and
  // the benchmark's data; the peak of a step above that level is its activations and temporaries.
  const TensorMemory at_rest = cpu_tensor_memory();
  reset_peak_cpu_tensor_memory();
  collective_seconds = 0;
  const auto start = BenchClock::now();
  {
    // The autograd profiler records every op (forward and backward) of the timed steps.
    std::optional<torch::autograd::profiler::RecordProfile> profiler;
    if (!args.profile.empty()) profiler.emplace(args.profile);
    for (std::int64_t timed = 0; timed < args.steps; ++timed) train_step();
    synchronize(placement.device);
  }
  const double seconds_per_step = seconds_between(start, BenchClock::now()) / static_cast<double>(args.steps);

  const TensorMemory after_steps = cpu_tensor_memory();
  std::int64_t parameters = 0, weight_bytes = 0, gradient_bytes = 0, optimizer_bytes = 0;
  for (const auto& parameter : model->parameters()) {
    parameters += parameter.numel();
    weight_bytes += tensor_bytes(parameter);
    gradient_bytes += tensor_bytes(parameter.grad());
  }
  for (const auto& [key, state] : optimizer->state()) {
    const auto& moments = static_cast<const torch::optim::AdamWParamState&>(*state);
    optimizer_bytes += tensor_bytes(moments.exp_avg()) + tensor_bytes(moments.exp_avg_sq()) +
                       tensor_bytes(moments.max_exp_avg_sq());
  }
  const nlohmann::json memory = {
      {"weights_mb", static_cast<double>(weight_bytes) / kMiB},
      {"gradients_mb", static_cast<double>(gradient_bytes) / kMiB},
      {"optimizer_mb", static_cast<double>(optimizer_bytes) / kMiB},
      {"other_tensors_at_rest_mb",
       static_cast<double>(at_rest.current_bytes - weight_bytes - gradient_bytes - optimizer_bytes) / kMiB},
      {"activations_peak_mb", static_cast<double>(after_steps.peak_bytes - at_rest.current_bytes) / kMiB},
      {"tensors_peak_mb", static_cast<double>(after_steps.peak_bytes) / kMiB},
      {"rss_peak_mb", static_cast<double>(peak_rss_bytes()) / kMiB},
      {"rss_beyond_tensors_mb", static_cast<double>(peak_rss_bytes() - after_steps.peak_bytes) / kMiB},
  };
  const std::int64_t embedding_parameters = config.vocab_size * config.hidden_size;
  const std::int64_t head_parameters = embedding_parameters;  // lm_head or the tied embedding
  const std::int64_t body_parameters = parameters - embedding_parameters - (config.tie_word_embeddings ? 0 : head_parameters);
  const double tokens_per_step = static_cast<double>(rows * length);
  const double attention_width = static_cast<double>(config.num_attention_heads * config.resolved_head_dim());
  const double flops_per_step =
      6.0 * static_cast<double>(body_parameters) * tokens_per_step +
      6.0 * static_cast<double>(head_parameters) * static_cast<double>(rows * (length - prompt_length)) +
      12.0 * static_cast<double>(config.num_hidden_layers) * attention_width * static_cast<double>(length * length) *
          static_cast<double>(rows);
  const double achieved_flops = flops_per_step / seconds_per_step;
  nlohmann::json result = {
      {"benchmark", "train"},
      {"model", args.model},
      {"parameters", parameters},
      {"device", args.device},
      {"threads", torch::get_num_threads()},
      {"world_size", parallel.world_size},
      {"collective_ms_per_step", 1000.0 * collective_seconds / static_cast<double>(args.steps)},
      {"collective_share_of_step", collective_seconds / static_cast<double>(args.steps) / seconds_per_step},
      {"thread_pools", thread_pools_json(pools)},
      {"loss", enum_name(loss_options.type)},
      {"precision", enum_name(train_config.precision)},
      {"gradient_checkpointing", train_config.gradient_checkpointing},
      {"shard_optimizer_state", optimizer_shards.has_value()},
      {"batch", batch},
      {"seq", length},
      {"prompt_len", prompt_length},
      {"rows_per_step", rows},
      {"tokens_per_step", rows * length},
      {"steps", args.steps},
      {"warmup_steps", args.warmup_steps},
      {"tokens_per_second", tokens_per_step / seconds_per_step},
      {"ms_per_step", 1000.0 * seconds_per_step},
      {"model_flops_per_step", flops_per_step},
      {"model_gflops_per_second", achieved_flops / 1e9},
      {"gemm_size", args.gemm_size},
      {"gemm_gflops", gemm_flops / 1e9},
      {"mfu", achieved_flops / gemm_flops},
      {"last_loss", last_loss},
      {"memory", memory},
      {"peak_rss_mb", static_cast<double>(peak_rss_bytes()) / (1024.0 * 1024.0)},
      {"plan", planned_training_memory(model, train_config, placement, batch, rows / batch, length, prompt_length)},
  };
  std::cout << result.dump(2) << "\n";
}

struct BenchJudgeArgs {
  ConfigArgs config;
  std::int64_t requests = 2000;
  std::int64_t candidates = 3;
  std::int64_t words = 24;
  std::int64_t warmup_requests = 0;  // 0 = one judge batch
};

// A prompt and `candidates` responses of about `words` words, mixing neutral and
// sentiment-bearing words so that lexicon judges have something to weigh.
std::vector<JudgeRequest> synthetic_judge_requests(std::int64_t count, std::int64_t candidates, std::int64_t words,
                                                   std::uint32_t seed) {
  static const std::vector<std::string> topics = {"the harbour", "a rainy morning", "the new library",
                                                  "an old bicycle", "the village market", "a long train ride"};
  static const std::vector<std::string> vocabulary = {
      "the", "a", "was", "and", "it", "we", "walked", "near", "river", "bread", "lantern", "garden", "quiet",
      "good", "great", "lovely", "happy", "bad", "sad", "terrible", "not", "very", "slightly", "calm", "broken"};
  std::mt19937 rng(seed);
  std::uniform_int_distribution<std::size_t> pick_topic(0, topics.size() - 1);
  std::uniform_int_distribution<std::size_t> pick_word(0, vocabulary.size() - 1);
  std::vector<JudgeRequest> requests;
  requests.reserve(static_cast<std::size_t>(count));
  for (std::int64_t index = 0; index < count; ++index) {
    JudgeRequest request;
    request.id = std::to_string(index);
    request.prompt = "Tell me about " + topics[pick_topic(rng)] + ".";
    for (std::int64_t candidate = 0; candidate < candidates; ++candidate) {
      std::string response;
      for (std::int64_t word = 0; word < words; ++word) response += (word ? " " : "") + vocabulary[pick_word(rng)];
      request.candidates.push_back(response + ".");
    }
    requests.push_back(std::move(request));
  }
  return requests;
}

// Times judge->rank over synthetic requests in batches of judge.batch_size, the cache bypassed,
// after an untimed warm-up batch (model loading, connection set-up).
void run_bench_judge(const BenchJudgeArgs& args) {
  if (args.requests < 1 || args.candidates < 1 || args.words < 1 || args.warmup_requests < 0) {
    throw InputError("--requests, --candidates and --words must be positive and --warmup non-negative");
  }
  const Config config = resolve_config(args.config);
  const auto build_start = BenchClock::now();
  std::unique_ptr<Judge> judge = make_judge(config.judge, JudgeBuildOptions{/*use_cache=*/false});
  const double build_seconds = seconds_between(build_start, BenchClock::now());
  const std::int64_t batch_size = config.judge.batch_size;

  const std::int64_t warmup = args.warmup_requests > 0 ? args.warmup_requests : batch_size;
  const std::vector<JudgeRequest> warmup_requests = synthetic_judge_requests(warmup, args.candidates, args.words, 1);
  judge->rank(warmup_requests);
  const JudgeStats before = judge->stats();

  const std::vector<JudgeRequest> requests = synthetic_judge_requests(args.requests, args.candidates, args.words, 0);
  const auto start = BenchClock::now();
  for (std::size_t begin = 0; begin < requests.size(); begin += static_cast<std::size_t>(batch_size)) {
    const std::size_t end = std::min(requests.size(), begin + static_cast<std::size_t>(batch_size));
    judge->rank(std::vector<JudgeRequest>(requests.begin() + static_cast<std::ptrdiff_t>(begin),
                                          requests.begin() + static_cast<std::ptrdiff_t>(end)));
  }
  const double seconds = seconds_between(start, BenchClock::now());
  const JudgeStats after = judge->stats();
  const std::int64_t answered = after.answered - before.answered;
  const double latency = answered > 0 ? (after.total_latency_seconds - before.total_latency_seconds) / answered : 0.0;
  const double judgments = static_cast<double>(args.requests);
  nlohmann::json result = {
      {"benchmark", "judge"},
      {"judge", judge->id()},
      {"config_hash", judge->config_hash()},
      {"requests", args.requests},
      {"candidates", args.candidates},
      {"words_per_response", args.words},
      {"batch_size", batch_size},
      {"threads", torch::get_num_threads()},
      {"thread_pools", thread_pools_json(cpu_thread_pools())},
      {"build_seconds", build_seconds},
      {"total_seconds", seconds},
      {"judgments_per_second", judgments / seconds},
      {"responses_per_second", judgments * static_cast<double>(args.candidates) / seconds},
      {"ok", after.ok - before.ok},
      {"abstained", after.abstained - before.abstained},
      {"failed", after.failed - before.failed},
      {"backend_requests", after.requests - before.requests},
      {"retries", after.retries - before.retries},
      {"mean_backend_latency_ms", 1000.0 * latency},
      {"peak_rss_mb", static_cast<double>(peak_rss_bytes()) / (1024.0 * 1024.0)},
  };
  std::cout << result.dump(2) << "\n";
}

}  // namespace

void register_bench_command(CLI::App& app) {
  auto* bench = app.add_subcommand("bench", "Measure throughput (prints JSON)");
  bench->require_subcommand(1);
  auto* generate = bench->add_subcommand("generate", "KV-cached batched decoding: tokens/s, ms per step, peak RSS");
  auto args = std::make_shared<BenchGenerateArgs>();
  generate->add_option("--model", args->model, "Hugging Face model directory")->required();
  generate->add_option("--batch", args->batch, "Sequences decoded together")->capture_default_str();
  generate->add_option("--prompt-len", args->prompt_length, "Prompt tokens per sequence")->capture_default_str();
  generate->add_option("--new-tokens", args->new_tokens, "New tokens per sequence")->capture_default_str();
  generate->add_option("--repeats", args->repeats, "Timed runs after one warm-up; the fastest is reported")
      ->capture_default_str();
  generate->add_option("--device", args->device, "cpu, cuda or cuda:N")->capture_default_str();
  generate->add_option("--dtype", args->dtype, "float32, bfloat16 or float16")->capture_default_str();
  generate->add_option("--threads", args->threads, "CPU threads; 0 = every core")->capture_default_str();
  generate->add_option("--profile", args->profile,
                       "Write the autograd profiler's trace of the last timed run here (chrome://tracing JSON; "
                       "scripts/dev/profile_summary.py tabulates it)");
  generate->callback([args] { run_bench_generate(*args); });

  auto* train = bench->add_subcommand(
      "train", "Preference-training steps (forward + backward over chosen, rejected and y_ref, AdamW): tokens/s, MFU");
  auto train_args = std::make_shared<BenchTrainArgs>();
  train->add_option("--model", train_args->model, "Hugging Face model directory")->required();
  train->add_option("--batch", train_args->batch, "Preference examples per step (3 rows each, 2 for a loss without y_ref), split across the ranks "
                      "under selm launch")->capture_default_str();
  train->add_option("--seq", train_args->sequence_length, "Tokens per row; the first half is the prompt")
      ->capture_default_str();
  train->add_option("--steps", train_args->steps, "Timed steps")->capture_default_str();
  train->add_option("--warmup", train_args->warmup_steps, "Untimed steps first")->capture_default_str();
  train->add_option("--loss", train_args->loss, "selm, dpo, ipo or hinge")->capture_default_str();
  train->add_option("--device", train_args->device, "cpu, cuda or cuda:N")->capture_default_str();
  train->add_option("--threads", train_args->threads, "CPU threads; 0 = every core")->capture_default_str();
  train->add_option("--profile", train_args->profile,
                    "Write the autograd profiler's trace of the timed steps here (chrome://tracing JSON; the timings "
                    "then include its overhead; "
                    "scripts/dev/profile_summary.py tabulates it)");
  train->add_option("--gemm-size", train_args->gemm_size, "n of the n x n x n fp32 matmul that measures the peak")
      ->capture_default_str();
  train->add_option("--precision", train_args->precision, "fp32, bf16_mixed or bf16 (as train.precision)")
      ->capture_default_str();
  train->add_flag("--shard-optimizer-state", train_args->shard_optimizer_state,
                  "Under selm launch: each rank keeps the AdamW state of its share of the parameters (ZeRO-1, as "
                  "train.shard_optimizer_state); memory.optimizer_mb is then this rank's");
  train->add_flag("--gradient-checkpointing", train_args->gradient_checkpointing,
                  "Recompute each decoder layer in backward (as train.gradient_checkpointing; the recomputation is "
                  "not counted in the model FLOPs)");
  train->add_option("--lora-rank", train_args->lora_rank, "LoRA rank (as train.lora.rank); 0 trains every weight")
      ->capture_default_str();
  train->add_option("--lora-targets", train_args->lora_targets,
                    "Projections with adapters (as train.lora.target_modules), comma-separated or all-linear")
      ->delimiter(',')
      ->capture_default_str();
  train->footer("mfu = model FLOPs per second / gemm_gflops, both measured in this run on the same device and\n"
                "threads. Model FLOPs per step = 6 * (parameters besides embedding and output projection) * tokens\n"
                "+ 6 * (output projection parameters) * response tokens + 12 * layers * heads * head_dim * T^2 * rows.");
  train->callback([train_args] { run_bench_train(*train_args); });

  auto* judge = bench->add_subcommand(
      "judge", "Rank synthetic requests with the configured judge (cache bypassed): judgments/s, responses/s");
  auto judge_args = std::make_shared<BenchJudgeArgs>();
  add_config_args(*judge, judge_args->config, /*config_required=*/false);
  judge->add_option("--requests", judge_args->requests, "Synthetic prompts to judge (timed)")->capture_default_str();
  judge->add_option("--candidates", judge_args->candidates, "Candidate responses per prompt")->capture_default_str();
  judge->add_option("--words", judge_args->words, "Words per candidate response")->capture_default_str();
  judge->add_option("--warmup", judge_args->warmup_requests, "Untimed prompts judged first; 0 = one judge.batch_size")
      ->capture_default_str();
  judge->footer("Requests go to judge.rank in batches of judge.batch_size, as `selm judge` sends them.\n"
                "Example: selm bench judge -c judge.yaml --requests 200 judge.http.max_concurrent=8");
  judge->callback([judge_args] { run_bench_judge(*judge_args); });

  register_bench_tokenize_command(*bench);
}

}  // namespace selm::cli
