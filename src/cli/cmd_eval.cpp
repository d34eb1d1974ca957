// `selm eval --model DIR --baseline DIR|RESPONSES.jsonl --prompts FILE -c JUDGE.yaml --out DIR`:
// the per-round win-rate evaluation of `selm train`, standalone.
#include <iostream>

#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "selm/eval/evaluation.hpp"
#include "selm/judge/judge_factory.hpp"
#include "selm/run/eval_record.hpp"
#include "selm/run/run_paths.hpp"
#include "selm/util/error.hpp"
#include "selm/util/files.hpp"
#include "selm/util/log.hpp"
#include "selm/util/stop_request.hpp"

namespace selm::cli {

namespace {

struct EvalArgs {
  ConfigArgs config;
  std::string model;
  std::string baseline;
  std::string prompts;
  std::string reference;
  std::string out;
  bool no_cache = false;
};

// Baseline responses from a JSONL file: one {"response": text, "token_ids"?: [...]} per prompt,
// in prompt order (or placed by "prompt_index"). Lengths come from token_ids when present,
// else from tokenising the response with the evaluated model's tokenizer.
std::vector<GenerationRecord> read_baseline_responses(const std::string& file, std::size_t num_prompts,
                                                      const LanguageModel& lm) {
  std::vector<GenerationRecord> records(num_prompts);
  std::vector<bool> seen(num_prompts, false);
  std::size_t position = 0;
  for (const auto& [line, value] : read_jsonl(file)) {
    if (!value.is_object() || !value.contains("response") || !value.at("response").is_string()) {
      throw_input_error(file, line, "key 'response': missing or not a string");
    }
    std::int64_t index = static_cast<std::int64_t>(position++);
    if (value.contains("prompt_index")) {
      if (!value.at("prompt_index").is_number_integer()) throw_input_error(file, line, "key 'prompt_index': not an integer");
      index = value.at("prompt_index").get<std::int64_t>();
    }
    if (index < 0 || index >= static_cast<std::int64_t>(num_prompts)) {
      throw_input_error(file, line, "response for prompt " + std::to_string(index) + ", but there are " +
                                        std::to_string(num_prompts) + " prompts");
    }
    GenerationRecord& record = records[static_cast<std::size_t>(index)];
    if (value.value("sample_index", std::int64_t{0}) != 0) continue;
    record.prompt_index = index;
    record.response = value.at("response").get<std::string>();
    if (value.contains("token_ids") && value.at("token_ids").is_array()) {
      record.token_ids = value.at("token_ids").get<std::vector<std::int64_t>>();
    } else {
      record.token_ids = lm.formatter->encode_response(record.response);
    }
    seen[static_cast<std::size_t>(index)] = true;
  }
  for (std::size_t i = 0; i < num_prompts; ++i) {
    if (!seen[i]) throw InputError(file + ": no response for prompt " + std::to_string(i));
  }
  return records;
}

void run_eval(const EvalArgs& args) {
  install_stop_signal_handlers();
  Config config = resolve_config(args.config);
  const std::vector<EvalPrompt> prompts = read_eval_prompts(args.prompts, config.eval.max_prompts);
  std::unique_ptr<Judge> judge = make_judge(config.judge, JudgeBuildOptions{!args.no_cache});
  const bool baseline_is_model = fs::is_directory(args.baseline);
  if (!baseline_is_model && !fs::is_regular_file(args.baseline)) {
    throw InputError("--baseline: '" + args.baseline + "' is neither a model directory nor a responses JSONL");
  }
  // Several ranks share the prompts out (generation and judging); rank 0 merges their records
  // and writes eval.json, which equals one process's.
  const ParallelContext parallel = process_parallel_context(config);
  const fs::path out = args.out;
  fs::create_directories(out);
  const SamplingConfig sampling = eval_sampling(config.generate, config.eval);

  // model.adapter_path adapts the evaluated model only, not the baseline or the reference.
  ModelSettings unadapted = config.model;
  unadapted.adapter_path.clear();
  std::vector<GenerationRecord> baseline;
  if (baseline_is_model) {
    LanguageModel baseline_model = load_language_model(args.baseline, unadapted, config.tokenizer);
    baseline = generate_eval_responses(baseline_model, prompts, sampling, out / run_files::kBaselineGenerations,
                                       GenerationFileOptions{true, "baseline", 0, parallel});
  }
  LanguageModel policy = load_language_model(args.model, config.model, config.tokenizer);
  if (!baseline_is_model) baseline = read_baseline_responses(args.baseline, prompts.size(), policy);

  EvaluationSettings settings;
  settings.sampling = sampling;
  settings.kl_samples = args.reference.empty() ? 0 : config.eval.kl_samples;
  settings.num_examples = config.eval.num_examples;
  settings.judge_batch_size = config.judge.batch_size;
  settings.logprob_batch_size = config.train.batch_size;
  settings.parallel = parallel;
  const EvalResult result = evaluate_policy(policy, prompts, baseline, *judge, settings, out, [&] {
    return load_language_model(args.reference, unadapted, config.tokenizer);
  });
  EvalRecord record;
  record.result = eval_result_to_json(result);
  record.model = args.model;
  record.baseline = args.baseline;
  if (!args.reference.empty()) record.reference = args.reference;
  record.judge_id = judge->id();
  record.judge_config_hash = judge->config_hash();
  const fs::path eval_file = out / run_files::kEval;
  write_eval_record(SharedArtifacts{parallel}, eval_file, record);
  if (!parallel.writes_shared_artifacts()) return;
  std::cout << "eval: " << describe_eval_result(result) << "\n";
  std::cout << "eval: wrote " << eval_file.string() << "\n";
}

}  // namespace

void register_eval_command(CLI::App& app) {
  auto* command = app.add_subcommand("eval", "Judged win rate of a model against a baseline model or responses on held-out prompts");
  auto args = std::make_shared<EvalArgs>();
  add_config_args(*command, args->config, /*config_required=*/false);
  command->add_option("--model", args->model, "Model directory to evaluate")->required()->check(CLI::ExistingDirectory);
  command->add_option("--baseline", args->baseline,
                      "Baseline: a model directory (its responses are generated) or a JSONL with one "
                      "{\"response\"} per prompt, in prompt order")
      ->required();
  command->add_option("--prompts", args->prompts, "Held-out prompts JSONL: {\"prompt\"} or {\"messages\"}")
      ->required()
      ->check(CLI::ExistingFile);
  command->add_option("--reference", args->reference,
                      "Reference model directory: also estimate KL(model || reference) from eval.kl_samples samples")
      ->check(CLI::ExistingDirectory);
  command->add_option("--out", args->out, "Output folder: generations, judgments and eval.json (resumed when present)")
      ->required();
  command->add_flag("--no-cache", args->no_cache, "Ignore judge.cache_dir");
  command->footer("The judge is the config's judge section; responses follow generate.* with eval.temperature\n"
                  "(0 = greedy) and eval.max_new_tokens. Win rate counts ties as half, with a 95% Wilson interval.\n"
                  "Under `selm launch`, srun or torchrun, the ranks share the prompts out; the files equal one process's.");
  command->callback([args] { run_eval(*args); });
}

}  // namespace selm::cli
