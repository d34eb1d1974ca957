#include <unistd.h>

#include <iostream>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "commands.hpp"
#include "selm/parallel/shared_artifacts.hpp"
#include "selm/util/stop_request.hpp"
#include "selm/model/hf_model_dir.hpp"
#include "selm/model/language_model.hpp"
#include "selm/model/llama_checkpoint.hpp"
#include "selm/text/tokenizer_files.hpp"
#include "selm/train/sft_trainer.hpp"
#include "selm/train/training_runtime_options.hpp"
#include "selm/train/training_model_io.hpp"
#include "selm/util/error.hpp"
#include "selm/run/run_paths.hpp"
#include "selm/util/files.hpp"
#include "selm/util/log.hpp"

namespace selm::cli {

namespace {

// The output folder shares the run directory's file names (run/run_paths.hpp).
inline constexpr const char* kFinalModelDir = run_files::kModelDir;
inline constexpr const char* kEvalFile = run_files::kEval;

struct SftArgs {
  ConfigArgs config;
  std::string model;
  std::string out;
  bool fresh = false;
  std::int64_t stop_after_step = 0;
};

nlohmann::json evaluation_json(const SftEvaluation& evaluation) {
  return {{"loss", evaluation.mean_nll},
          {"perplexity", evaluation.perplexity},
          {"loss_tokens", evaluation.num_loss_tokens},
          {"examples", evaluation.num_examples}};
}

void run_sft(const SftArgs& args) {
  install_stop_signal_handlers();
  Config config = resolve_config(args.config);
  if (!args.model.empty()) config.model.path = args.model;
  const ParallelContext parallel = process_parallel_context(config);
  const SharedArtifacts artifacts(parallel);
  if (config.model.path.empty()) throw InputError("key 'model.path': the starting model directory is required");
  if (config.sft.train_file.empty()) throw InputError("key 'sft.train_file': the SFT data file is required");
  const fs::path out = args.out.empty() ? fs::path(config.run.output_dir) / config.run.name : fs::path(args.out);

  // Every record is read and validated before anything is loaded or written.
  const std::vector<SftRecord> train_records = read_sft_file(config.sft.train_file);
  if (train_records.empty()) throw InputError(config.sft.train_file + ": no SFT records");
  std::vector<SftRecord> eval_records;
  if (!config.sft.eval_file.empty()) {
    eval_records = read_sft_file(config.sft.eval_file);
    if (eval_records.empty()) throw InputError(config.sft.eval_file + ": no SFT records");
  }

  const TrainConfig& train = config.train;
  LanguageModel lm =
      load_language_model(config.model.path, config.model, config.tokenizer, training_runtime_options(train));
  const std::vector<SftExample> train_examples =
      make_sft_examples(train_records, *lm.formatter, train.max_length, train.max_prompt_length);
  const std::vector<SftExample> eval_examples =
      make_sft_examples(eval_records, *lm.formatter, train.max_length, train.max_prompt_length);
  const std::int64_t pad_id = sft_pad_id(*lm.tokenizer);

  fs::create_directories(out);
  const std::string config_yaml = dump_config_yaml(config);
  artifacts.write_file(out / "config.yaml", config_yaml);

  nlohmann::json eval_report;
  if (!eval_examples.empty()) {
    const SftEvaluation initial = evaluate_sft(lm.model, eval_examples, train.batch_size, pad_id);
    eval_report = {{"eval_file", config.sft.eval_file}, {"initial", evaluation_json(initial)}};
    std::cout << "sft: held-out perplexity of the starting model " << initial.perplexity << " (loss "
              << initial.mean_nll << " over " << initial.num_loss_tokens << " tokens)\n";
  }

  torch::manual_seed(static_cast<std::uint64_t>(config.run.seed));
  TrainingLoopOptions options;
  options.output_dir = out;
  options.config_yaml = config_yaml;
  options.resume = !args.fresh;
  options.stop_after_step = args.stop_after_step;
  options.parallel = parallel;
  const std::string chat_template = config.tokenizer.chat_template;
  options.save_model = checkpoint_model_saver(lm, chat_template);
  options.load_model = checkpoint_model_loader(lm);
  log_trainable_parameters(lm.model);
  const TrainingResult result = train_sft(lm.model, train_examples, train, config.sft.packing, pad_id, options);
  if (!result.finished) {
    std::cout << "sft: stopped after step " << result.completed_steps << "/" << result.total_steps
              << "; run the same command again to resume from " << (out / kCheckpointDirName).string() << "\n";
    return;
  }

  if (!eval_examples.empty()) {
    const SftEvaluation final_evaluation = evaluate_sft(lm.model, eval_examples, train.batch_size, pad_id);
    eval_report["final"] = evaluation_json(final_evaluation);
    artifacts.write_file(out / kEvalFile, eval_report.dump(2) + "\n");
    std::cout << "sft: held-out perplexity after training " << final_evaluation.perplexity << " (loss "
              << final_evaluation.mean_nll << ")\n";
  }
  artifacts.write_with([&] { write_trained_model(lm, out, chat_template); });
  const auto& metrics = result.last_step.metrics;
  const auto loss = metrics.find("loss");
  std::cout << "sft: " << result.total_steps << " steps";
  if (loss != metrics.end() && result.last_step.step > 0) std::cout << ", last loss " << loss->second;
  std::cout << "; wrote " << (out / kFinalModelDir).string() << "\n";
}

}  // namespace

void register_sft_command(CLI::App& app) {
  auto* command = app.add_subcommand("sft", "Supervised fine-tuning (or pretraining on text) of a model directory");
  auto args = std::make_shared<SftArgs>();
  add_config_args(*command, args->config, /*config_required=*/true);
  command->add_option("--model", args->model, "Starting model directory (overrides model.path)");
  command->add_option("--out", args->out, "Run directory (default run.output_dir/run.name)");
  command->add_flag("--fresh", args->fresh, "Start from step 0 even when the run directory has a checkpoint");
  command->add_option("--stop-after-step", args->stop_after_step,
                      "Checkpoint and stop after this many optimiser steps (0 = train to the end); rerun to resume")
      ->capture_default_str();
  command->footer(
      "Data: sft.train_file (and sft.eval_file for held-out perplexity), records {prompt, response},\n"
      "{messages} or {text}. Optimiser, schedule, batching and lengths: the train.* keys; sft.packing=true packs\n"
      "examples into rows of train.max_length. The run directory gets train_metrics.jsonl, checkpoint/\n"
      "(resumed automatically), eval.json and the final model in model/ (with train.lora: the adapter in\n"
      "adapter/, PEFT's format, and model/ with it merged).");
  command->callback([args] { run_sft(*args); });
}

}  // namespace selm::cli
