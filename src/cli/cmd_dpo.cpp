// `selm dpo`: offline preference training (selm, dpo, ipo or hinge loss) of model.path on
// data.train_file, with the reference log-probs computed once before training.
#include <unistd.h>

#include <cstdio>
#include <iostream>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "commands.hpp"
#include "selm/model/hf_model_dir.hpp"
#include "selm/model/language_model.hpp"
#include "selm/model/llama_checkpoint.hpp"
#include "selm/text/tokenizer_files.hpp"
#include "selm/train/preference_step.hpp"
#include "selm/train/sequence_logps.hpp"
#include "selm/train/training_loop.hpp"
#include "selm/util/error.hpp"
#include "selm/util/files.hpp"
#include "selm/util/log.hpp"
#include "selm/util/system.hpp"

namespace selm::cli {

namespace {

// The training records with the reference's log-probs, in the output directory: a resumed run
// reads them instead of loading the reference again.
constexpr const char* kReferenceCacheFile = "preferences_with_reference.jsonl";
constexpr const char* kFinalModelDir = "model";

struct DpoArgs {
  ConfigArgs config;
  std::string data;
  std::string out;
  bool keep_reference = false;
  std::int64_t stop_after_step = 0;
};

double megabytes(std::int64_t bytes) { return static_cast<double>(bytes) / (1024.0 * 1024.0); }

std::int64_t pad_id_of(const LanguageModel& lm) {
  return lm.tokenizer->pad_id().value_or(std::max<std::int64_t>(0, lm.tokenizer->eos_id()));
}

// True when every record carries the reference log-probs this loss reads.
bool has_reference_logps(const std::vector<PreferenceRecord>& records, bool with_y_ref) {
  for (const auto& record : records) {
    if (!record.reference_logps) return false;
    if (with_y_ref && !record.reference_logps->reference_response) return false;
  }
  return true;
}

std::string records_jsonl(const std::vector<PreferenceRecord>& records) {
  std::string text;
  for (const auto& record : records) text += preference_record_to_json(record).dump() + "\n";
  return text;
}

void run_dpo(const DpoArgs& args) {
  Config config = resolve_config(args.config);
  if (!args.data.empty()) config.data.train_file = args.data;
  if (config.data.train_file.empty()) throw InputError("key 'data.train_file': required (the preferences JSONL)");
  if (config.model.path.empty()) throw InputError("key 'model.path': required (the policy to start from)");
  const TrainConfig& train = config.train;
  const PreferenceLossOptions loss_options = preference_loss_options(train);
  const bool with_y_ref = loss_uses_reference_response(loss_options);
  const fs::path out = args.out.empty() ? fs::path(config.run.output_dir) / config.run.name : fs::path(args.out);

  // The whole file is validated before anything is written.
  PreferenceFile file = read_preference_file_with_generation_logps(config.data.train_file);
  if (with_y_ref) {
    for (const auto& record : file.records) {
      if (!record.reference_response) {
        throw_input_error(config.data.train_file, record.line,
                          "key 'reference_response': missing (train.loss selm with train.alpha != 0 needs y_ref)");
      }
    }
  }
  LanguageModel lm = load_language_model(config.model.path, config.model, config.tokenizer);
  const std::int64_t pad_id = pad_id_of(lm);
  std::vector<TokenizedPreference> examples;
  examples.reserve(file.records.size());
  for (const auto& record : file.records) {
    examples.push_back(tokenize_preference(record, *lm.formatter, train.max_length, train.max_prompt_length));
  }
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
    records = std::move(file.records);
  } else {
    const fs::path cache = out / kReferenceCacheFile;
    bool cached = false;
    if (fs::exists(cache)) {
      std::vector<PreferenceRecord> loaded = read_preference_file(cache);
      cached = loaded.size() == file.records.size() && has_reference_logps(loaded, with_y_ref);
      if (cached) log::info("dpo: reference log-probs read from " + cache.string());
    }
    if (!cached) {
      log::info("dpo: computing reference log-probs of " + std::to_string(file.records.size()) + " records");
      compute_reference_logps(lm.model, file.records, examples, train.batch_size, pad_id, train.average_logps,
                              with_y_ref, file.generation_y_ref_logps);
      write_file_atomic(cache, records_jsonl(file.records));
    }
    // Straight and resumed runs both train on the values as stored, so they agree bit for bit.
    records = read_preference_file(cache);
  }
  const std::int64_t setup_rss = current_rss_bytes();

  TrainingLoopOptions options;
  options.output_dir = out;
  options.num_examples = static_cast<std::int64_t>(records.size());
  options.config_yaml = dump_config_yaml(config);
  options.stop_after_step = args.stop_after_step;
  const std::string chat_template = config.tokenizer.chat_template;
  options.save_model = [&lm, &chat_template](const fs::path& dir) {
    save_llama(lm.model, dir);
    write_tokenizer_files(*lm.tokenizer, dir, chat_template);
  };
  options.load_model = [&lm](const fs::path& dir) { load_module_weights(*lm.model, dir); };

  lm.model->train();
  LlamaForCausalLM* reference = args.keep_reference ? &reference_model : nullptr;
  const StepFunction step = [&](const std::vector<std::int64_t>& indices) {
    std::vector<const TokenizedPreference*> batch_examples;
    std::vector<const PreferenceRecord*> batch_records;
    for (std::int64_t index : indices) {
      batch_examples.push_back(&examples[static_cast<std::size_t>(index)]);
      batch_records.push_back(&records[static_cast<std::size_t>(index)]);
    }
    const PreferenceBatchResult result = preference_batch(lm.model, batch_examples, batch_records, loss_options, pad_id,
                                                          train.average_logps, reference);
    return StepOutput{result.loss.loss, preference_metric_map(result), result.num_tokens};
  };
  const TrainingResult result = run_training_loop(*lm.model, train, options, step);

  if (result.finished) {
    // Staging directory + rename: OUT/model is either absent or complete.
    const fs::path final_dir = out / kFinalModelDir;
    const fs::path staging = out / (std::string(kFinalModelDir) + ".tmp-" + std::to_string(::getpid()));
    fs::remove_all(staging);
    fs::create_directories(staging);
    options.save_model(staging);
    fs::remove_all(final_dir);
    fs::rename(staging, final_dir);
  }
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
      "checkpoint/ (resumed automatically) and, at the end, model/ (a Hugging Face directory).\n"
      "A record's optional \"reference_response_logprob\" (the generation's summed log-prob of y_ref under the\n"
      "reference) is used as ref(y_ref) instead of recomputing it.");
  command->callback([args] { run_dpo(*args); });
}

}  // namespace selm::cli
