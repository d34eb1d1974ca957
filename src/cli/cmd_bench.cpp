#include <iostream>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "commands.hpp"
#include "selm/generate/generator.hpp"
#include "selm/model/llama_checkpoint.hpp"
#include "selm/util/error.hpp"
#include "selm/util/system.hpp"

namespace selm::cli {

namespace {

struct BenchGenerateArgs {
  std::string model;
  std::int64_t batch = 1;
  std::int64_t prompt_length = 64;
  std::int64_t new_tokens = 128;
  std::int64_t repeats = 3;
  std::string device = "cpu";
  std::string dtype = "float32";
  std::int64_t threads = 0;
};

// Greedy decoding of random prompts with no stop token, so every row decodes exactly
// new_tokens tokens; the best of `repeats` timed runs after one warm-up run is reported.
void run_bench_generate(const BenchGenerateArgs& args) {
  if (args.batch < 1 || args.prompt_length < 1 || args.new_tokens < 1 || args.repeats < 1) {
    throw InputError("--batch, --prompt-len, --new-tokens and --repeats must be positive");
  }
  set_torch_threads(args.threads);
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
    generator.generate(prompts);
    if (repeat == 0 || generator.stats().total_seconds < best.total_seconds) best = generator.stats();
  }
  std::int64_t parameters = 0;
  for (const auto& parameter : model->parameters()) parameters += parameter.numel();
  const double decode_steps = static_cast<double>(std::max<std::int64_t>(1, best.decode_steps));
  // Decode steps produce one token per row; the first token of each row comes from prefill.
  const double decode_tokens = decode_steps * static_cast<double>(args.batch);
  nlohmann::json result = {
      {"benchmark", "generate"},
      {"model", args.model},
      {"parameters", parameters},
      {"device", args.device},
      {"dtype", args.dtype},
      {"threads", torch::get_num_threads()},
      {"batch", args.batch},
      {"prompt_len", args.prompt_length},
      {"new_tokens", args.new_tokens},
      {"generated_tokens", best.generated_tokens},
      {"tokens_per_second", static_cast<double>(best.generated_tokens) / best.total_seconds},
      {"decode_tokens_per_second", decode_tokens / best.decode_seconds},
      {"ms_per_decode_step", 1000.0 * best.decode_seconds / decode_steps},
      {"prefill_ms", 1000.0 * best.prefill_seconds},
      {"total_seconds", best.total_seconds},
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
  generate->callback([args] { run_bench_generate(*args); });
}

}  // namespace selm::cli
