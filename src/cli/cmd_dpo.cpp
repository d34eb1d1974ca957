// `selm dpo`: offline preference training (selm, dpo, ipo or hinge loss) of model.path on
// data.train_file, with the reference log-probs computed once before training.

#include <cstdio>
#include <iostream>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "commands.hpp"
#include "selm/util/stop_request.hpp"
#include "selm/model/language_model.hpp"
#include "selm/model/llama_checkpoint.hpp"
#include "selm/train/preference_step.hpp"
#include "selm/train/preference_trainer.hpp"
#include "selm/train/training_runtime_options.hpp"
#include "selm/util/error.hpp"
#include "selm/util/files.hpp"
#include "selm/util/log.hpp"
#include "selm/util/system.hpp"

namespace selm::cli {

namespace {

struct DpoArgs {
  ConfigArgs config;
  std::string data;
  std::string out;
  bool keep_reference = false;
  std::int64_t stop_after_step = 0;
};

double megabytes(std::int64_t bytes) { return static_cast<double>(bytes) / (1024.0 * 1024.0); }

void run_dpo(const DpoArgs& args) {
  install_stop_signal_handlers();
  Config config = resolve_config(args.config);
  if (!args.data.empty()) config.data.train_file = args.data;
  const ParallelContext parallel = process_parallel_context(config);
  if (config.data.train_file.empty()) throw InputError("key 'data.train_file': required (the preferences JSONL)");
  if (config.model.path.empty()) throw InputError("key 'model.path': required (the policy to start from)");
  const TrainConfig& train = config.train;
  const PreferenceLossOptions loss_options = preference_loss_options(train);
  const bool with_y_ref = loss_uses_reference_response(loss_options);
  const fs::path out = args.out.empty() ? fs::path(config.run.output_dir) / config.run.name : fs::path(args.out);

  // The whole file is validated before anything is written.
  LanguageModel lm =
      load_language_model(config.model.path, config.model, config.tokenizer, training_runtime_options(train));
  PreferenceData data = load_preference_data(config.data.train_file, lm, train, with_y_ref);
  fs::create_directories(out);

  // Reference log-probs, once. The policy starts from the reference's weights, so the loaded
  // model serves as the reference before training starts; no second copy is ever resident.
  // --keep-reference instead keeps a separate frozen copy and scores every batch with it (the
  // memory-hungry way, kept for comparison).
  LlamaForCausalLM reference_model{nullptr};
  std::vector<PreferenceRecord> records;
  if (args.keep_reference) {
    reference_model = load_llama(config.model.path, lm.placement);
    reference_model->eval();
    for (auto& parameter : reference_model->parameters()) parameter.set_requires_grad(false);
    records = std::move(data.file.records);
  } else {
    records = reference_scored_records(lm.model, data, train, pad_id_of(lm),
                                       ReferenceScoringOptions{with_y_ref, out / kReferenceCacheFile, parallel});
  }
  const std::int64_t setup_rss = current_rss_bytes();

  PreferenceTrainingOptions options;
  options.output_dir = out;
  options.config_yaml = dump_config_yaml(config);
  options.chat_template = config.tokenizer.chat_template;
  options.stop_after_step = args.stop_after_step;
  options.reference_model = args.keep_reference ? &reference_model : nullptr;
  options.parallel = parallel;
  const TrainingResult result = train_preference_model(lm, records, data.examples, train, options);

  char summary[256];
  std::snprintf(summary, sizeof(summary),
                "dpo: %s after %lld of %lld steps (resumed from %lld); rss after setup %.1f MiB, peak rss %.1f MiB%s\n",
                result.finished ? "finished" : "stopped", static_cast<long long>(result.completed_steps),
                static_cast<long long>(result.total_steps), static_cast<long long>(result.resumed_from_step),
                megabytes(setup_rss), megabytes(peak_rss_bytes()),
                args.keep_reference ? " (reference kept in memory)" : "");
  std::cout << summary;
  if (result.finished) std::cout << "dpo: wrote " << (out / kFinalModelDir).string() << "\n";
}

}  // namespace

void register_dpo_command(CLI::App& app) {
  auto* command = app.add_subcommand("dpo", "Offline preference training (selm, dpo, ipo or hinge loss) on a preferences JSONL");
  auto args = std::make_shared<DpoArgs>();
  add_config_args(*command, args->config, /*config_required=*/true);
  command->add_option("--data", args->data, "Preferences JSONL (overrides data.train_file)");
  command->add_option("--out", args->out, "Output directory (default run.output_dir/run.name); resumed when it holds a checkpoint");
  command->add_option("--stop-after-step", args->stop_after_step,
                      "Stop (with a checkpoint) after this many optimiser steps; rerun to continue");
  command->add_flag("--keep-reference", args->keep_reference,
                    "Keep a frozen reference model in memory and score every batch with it instead of "
                    "precomputing its log-probs (for comparison; uses more memory)");
  command->footer(
      "model.path is the starting policy and the frozen reference. Loss and optimisation are the train.* keys.\n"
      "OUT holds preferences_with_reference.jsonl (records with cached reference log-probs), train_metrics.jsonl,\n"
      "checkpoint/ (resumed automatically) and, at the end, model/ (a Hugging Face directory; with train.lora\n"
      "the adapter is saved first in adapter/, PEFT's format, and merged into model/; the reference is the\n"
      "model with its adapters off).\n"
      "A record's optional \"reference_response_logprob\" (the generation's summed log-prob of y_ref under the\n"
      "reference) is used as ref(y_ref) instead of recomputing it.");
  command->callback([args] { run_dpo(*args); });
}

}  // namespace selm::cli
