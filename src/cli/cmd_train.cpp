// `selm train -c CONFIG`: online SELM rounds in a resumable run directory.
#include <iostream>

#include "commands.hpp"
#include "selm/eval/report.hpp"
#include "selm/online/online_trainer.hpp"
#include "selm/online/run_memory_plan.hpp"
#include "selm/util/error.hpp"
#include "selm/run/run_paths.hpp"
#include "selm/tasks/task.hpp"
#include "selm/util/files.hpp"
#include "selm/util/log.hpp"
#include "selm/util/stop_request.hpp"

namespace selm::cli {

namespace {

// report.html in the run directory; returns the summary table for the terminal.
std::string write_run_report(const fs::path& run_dir) {
  const RunSummary run = load_run_summary(run_dir);
  write_file_atomic(RunPaths{run_dir}.report(), render_report_html(run));
  return render_summary_table(run);
}

// The memory plan's verdict, before anything is prepared or loaded: a run that cannot fit is
// refused (exit 2) unless --force.
void check_memory_plan(const Config& config, bool force) {
  const RunMemoryPlan run_plan = plan_run_memory(config);
  const std::string peak = "expected peak memory " + format_bytes(run_plan.plan.peak_bytes) + " (" +
                           run_plan.plan.peak_phase + ") on " + run_plan.device_name;
  if (!run_plan.capacity_bytes) {
    log::info(peak + "; the device's capacity is unknown (see selm plan --gpu-memory)");
    return;
  }
  const std::string capacity = format_bytes(*run_plan.capacity_bytes) + " (" + run_plan.capacity_source + ")";
  if (run_plan.fits()) {
    log::info(peak + " of " + capacity);
    return;
  }
  // The keys to change, named here: a hostile or mistyped size is then found without `selm plan`.
  std::string lower;
  for (const MemorySuggestion& suggestion : memory_suggestions(run_plan.inputs)) {
    lower += (lower.empty() ? "" : ", ") + suggestion.setting + " (" + format_bytes(suggestion.peak_bytes) + ")";
  }
  const MemoryPlanInputs& in = run_plan.inputs;
  const std::string& phase = run_plan.plan.peak_phase;
  std::string sizes;
  if (phase == "training") {
    sizes = "train.batch_size=" + std::to_string(in.train_batch_size) + ", train.max_length=" + std::to_string(in.max_length);
  } else if (phase == "judging") {
    sizes = "judge.reward_model.batch_size=" + std::to_string(in.reward_batch_size);
  } else {
    sizes = "generate.batch_size=" + std::to_string(in.generate_batch_size) +
            ", generate.max_new_tokens=" + std::to_string(in.max_new_tokens);
  }
  const std::string message = peak + " with " + sizes + " does not fit in " + capacity + "; " +
                              (lower.empty() ? std::string("no single setting lowers the peak")
                                             : "settings that lower it: " + lower) +
                              "; `selm plan` with the same config shows the parts";
  if (!force) throw InputError(message + " (--force starts anyway)");
  log::warn(message + "; starting anyway (--force)");
}

struct TrainArgs {
  ConfigArgs config;
  bool force = false;
  bool no_cache = false;
  std::string stop_after_stage;
};

void run_train(const TrainArgs& args) {
  install_stop_signal_handlers();
  Config config = resolve_config(args.config);
  check_memory_plan(config, args.force);
  OnlineTrainOptions options;
  options.force = args.force;
  options.use_judge_cache = !args.no_cache;
  options.stop_after_stage = args.stop_after_stage;
  options.write_report = write_run_report;
  options.parallel = process_parallel_context(config);
  if (!config.task.name.empty()) {
    // A built-in task prepares (or reuses from its cache) the data and the initial model, and
    // fills the keys the config leaves empty.
    // Rank 0 prepares a cold task cache; the other ranks then find it ready.
    if (!options.parallel.writes_shared_artifacts()) options.parallel.barrier("task preparation");
    const TaskAssets assets = prepare_task(config);
    if (options.parallel.writes_shared_artifacts()) options.parallel.barrier("task preparation");
    config = apply_task(config, assets);
    options.initial_model =
        InitialModelOrigin{"task:" + assets.task, assets.sft_perplexity, assets.initial_perplexity, assets.sft_eval_report};
  }
  const OnlineTrainResult result = run_online_training(config, options);
  if (result.already_finished) {
    std::cout << render_summary_table(load_run_summary(result.run_dir));
    std::cout << "train: " << result.run_dir.string() << " has already finished\n";
  } else if (result.stopped_early) {
    std::cout << "train: stopped after stage " << args.stop_after_stage << "; rerun the same command to continue\n";
  } else {
    std::cout << "train: finished " << result.run_dir.string() << "; report: "
              << RunPaths{result.run_dir}.report().string() << "\n";
  }
}

}  // namespace

void register_train_command(CLI::App& app) {
  auto* command = app.add_subcommand("train", "Online SELM rounds: generate, judge, pair, train and evaluate, round after round");
  auto args = std::make_shared<TrainArgs>();
  add_config_args(*command, args->config, /*config_required=*/true);
  command->add_flag("--force", args->force,
                    "Resume although keys that change results differ from the run's config.yaml (the differences are shown), "
                    "and start although the memory plan says the run does not fit");
  command->add_flag("--no-cache", args->no_cache, "Ignore judge.cache_dir: judge everything afresh and store nothing");
  command->add_option("--stop-after-stage", args->stop_after_stage,
                      "Stop cleanly once this stage is complete, e.g. round-1/judge (rerun to continue)");
  command->footer(
      "The run directory is run.output_dir/run.name. Rerunning the same command resumes at the first unfinished\n"
      "stage (generation and judging at the first missing record, training at its last checkpoint); on a finished\n"
      "run it says so and exits 0.\n"
      "Stages per round t: select, generate, judge, pair, reference, train, eval (see online.*, eval.*, judge.*).\n"
      "Files: config.yaml, state.json, log.txt, metrics.jsonl, report.html, baseline/, round-<t>/{prompts,\n"
      "generations, judgments, preferences}.jsonl, pairing.json, train_metrics.jsonl, model/, eval.json.\n"
      "SIGTERM, SIGUSR1 or SIGINT stop it cleanly (training after the step in flight, with a checkpoint) with\n"
      "exit code 75; rerun to resume. Data-parallel: selm launch --nproc N -- selm train ..., or srun.");
  command->callback([args] { run_train(*args); });
}

}  // namespace selm::cli
