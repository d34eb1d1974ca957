#include "selm/online/online_trainer.hpp"

#include <chrono>
#include <cstdio>
#include <iostream>
#include <map>
#include <memory>
#include <optional>

#include "selm/judge/judge_factory.hpp"
#include "selm/judge/judge_file.hpp"
#include "selm/online/model_slot.hpp"
#include "selm/online/round_settings.hpp"
#include "selm/online/round_stages.hpp"
#include "selm/online/run_inputs.hpp"
#include "selm/online/run_metrics.hpp"
#include "selm/parallel/shared_artifacts.hpp"
#include "selm/run/initial_model_record.hpp"
#include "selm/run/run_paths.hpp"
#include "selm/util/clock.hpp"
#include "selm/util/error.hpp"
#include "selm/util/file_lock.hpp"
#include "selm/util/files.hpp"
#include "selm/util/log.hpp"

namespace selm {

namespace {

// What the stages of the current round made, for the stages after them in the same process. A
// stage that completed in an earlier process is read back from its files once, when first needed.
struct RoundOutputs {
  std::optional<std::vector<TrainPrompt>> prompts;
  std::optional<std::vector<GenerationRecord>> generations;
  std::optional<JudgedCandidates> judged;
  std::optional<ScoredPreferences> scored;
};

class OnlineRun {
 public:
  OnlineRun(const Config& config, const OnlineTrainOptions& options)
      : config_(config), options_(options), artifacts_(options.parallel), slot_(config_) {}

  OnlineTrainResult run();

 private:
  // Stage bookkeeping.
  bool done(const std::string& stage) const { return state_.is_completed(stage); }
  void complete(const std::string& stage, double seconds);
  bool should_stop(const std::string& stage) const { return options_.stop_after_stage == stage; }

  void open_run_directory();
  // Rank 0 only: takes the run directory's lock, or throws InputError naming its holder.
  void lock_run_directory();
  void write_initial_model();
  const RoundSettings& round_settings(std::int64_t round);
  std::int64_t samples(std::int64_t round) {
    return samples_per_prompt(inputs_.pairing, round_settings(round).config.generate.num_samples);
  }
  std::string round_label(std::int64_t round) const { return "round " + std::to_string(round); }
  fs::path start_model(std::int64_t round) const;
  // Built on first use: only the judge and eval stages need a live judge.
  Judge& judge();

  void run_baseline();
  // Returns false when the run must stop after one of the round's stages (stop_after_stage).
  bool run_round(std::int64_t round);
  // One stage each: its inputs from the earlier stages, its outputs kept in current_.
  void select(std::int64_t round);
  void generate(std::int64_t round);
  void judge_candidates(std::int64_t round);
  void pair(std::int64_t round);
  void reference(std::int64_t round);
  void train(std::int64_t round);
  void evaluate(std::int64_t round);
  void write_metrics();
  void write_report();

  // The earlier stages' outputs: in memory, or read back from their files after a resume.
  const std::vector<TrainPrompt>& round_prompts(std::int64_t round);
  const std::vector<GenerationRecord>& round_generations(std::int64_t round);
  const JudgedCandidates& judged_candidates(std::int64_t round);
  const ScoredPreferences& scored_preferences(std::int64_t round);
  const std::vector<GenerationRecord>& baseline_generations();

  const Config& config_;
  OnlineTrainOptions options_;
  SharedArtifacts artifacts_;  // every file of the run directory is written through it
  ModelSlot slot_;
  RunPaths paths_;
  // Held by rank 0 from the moment the run directory is opened: a second `selm train` on the
  // same directory stops instead of interleaving its writes with this one's.
  std::optional<FileLock> run_lock_;
  RunState state_;
  // Everything the run reads is checked before the run directory is created or changed.
  OnlineRunInputs inputs_;
  std::optional<std::vector<GenerationRecord>> baseline_;
  std::unique_ptr<Judge> judge_;
  std::map<std::int64_t, RoundSettings> round_settings_;
  RoundOutputs current_;
};

void OnlineRun::complete(const std::string& stage, double seconds) {
  state_.completed.push_back(stage);
  state_.add_seconds(stage, seconds);
  write_run_state(artifacts_, paths_.state(), state_);
  // Every stage ends at a barrier: the next one reads what rank 0 has just written.
  artifacts_.parallel().barrier("stage " + stage);
  char text[64];
  std::snprintf(text, sizeof(text), " done in %.1f s", seconds);
  log::info("stage " + stage + text);
}

void OnlineRun::lock_run_directory() {
  fs::create_directories(paths_.dir);
  run_lock_ = FileLock::try_acquire(paths_.lock());
  if (!run_lock_) {
    const std::string holder = FileLock::holder_of(paths_.lock());
    throw InputError(paths_.dir.string() + ": another selm train is working on this run (" +
                     (holder.empty() ? std::string("holder unknown") : holder) + ", lock " + paths_.lock().string() +
                     "); wait for it to finish or stop it, or choose another run.name");
  }
  if (!run_lock_->taken_over_from().empty()) {
    log::info(paths_.dir.string() + ": taking over the lock left by " + run_lock_->taken_over_from() +
              ", which is no longer running");
  }
}

void OnlineRun::open_run_directory() {
  paths_.dir = fs::path(config_.run.output_dir) / config_.run.name;
  if (artifacts_.writes()) lock_run_directory();
  if (fs::exists(paths_.state())) {
    state_ = read_run_state(paths_.state());
    const Config stored = load_config({paths_.config().string()}, {});
    const std::vector<std::string> differences = result_deciding_differences(stored, config_);
    if (!differences.empty()) {
      std::string text;
      for (const auto& difference : differences) text += "\n  " + difference;
      if (!options_.force) {
        throw InputError(paths_.dir.string() + ": the config differs from the one this run started with in keys that "
                         "change results:" + text + "\nRerun with --force to continue with the new config, or use "
                         "another run.name");
      }
      log::warn("continuing " + paths_.dir.string() + " with a changed config (--force):" + text);
    }
  } else {
    state_ = RunState{};  // rank 0 created the directory with its lock
  }
  // Every rank has read the run's state before rank 0 writes it.
  artifacts_.parallel().barrier("opening the run directory");
  artifacts_.write_file(paths_.config(), dump_config_yaml(config_));
  state_.config_fingerprint = config_fingerprint(config_);
  if (!state_.finished) write_run_state(artifacts_, paths_.state(), state_);
  artifacts_.parallel().barrier("opening the run directory");
  if (artifacts_.writes()) log::set_file(paths_.log());
}

// initial_model.json: kept from an earlier start of the run, its path and origin brought up to date.
void OnlineRun::write_initial_model() {
  InitialModelRecord record;
  if (fs::exists(paths_.initial_model())) record = read_initial_model_record(paths_.initial_model());
  record.path = config_.model.path;
  if (options_.initial_model) {
    const InitialModelOrigin& origin = *options_.initial_model;
    record.source = origin.source;
    record.perplexity = origin.perplexity;
    record.initial_perplexity = origin.initial_perplexity;
    record.perplexity_file = origin.perplexity_file.string();
  }
  write_initial_model_record(artifacts_, paths_.initial_model(), record);
}

const RoundSettings& OnlineRun::round_settings(std::int64_t round) {
  const auto cached = round_settings_.find(round);
  if (cached != round_settings_.end()) return cached->second;
  return round_settings_.emplace(round, load_round_settings(config_, paths_.config(), round, inputs_.first_round))
      .first->second;
}

fs::path OnlineRun::start_model(std::int64_t round) const {
  if (round == inputs_.first_round) return config_.model.path;
  return paths_.round(round - 1).model();
}

Judge& OnlineRun::judge() {
  if (!judge_) {
    judge_ = make_judge(config_.judge, JudgeBuildOptions{options_.use_judge_cache});
    log::info("judge " + judge_->id() + " (config " + judge_->config_hash() + ")");
  }
  return *judge_;
}

void OnlineRun::run_baseline() {
  const std::string stage = "baseline";
  if (done(stage) || !config_.eval.enabled) return;
  log::info("baseline: the initial model's responses to " + std::to_string(inputs_.eval_prompts.size()) + " eval prompts");
  const auto start = std::chrono::steady_clock::now();
  // With sampled evaluation (eval.temperature > 0) each run.seed draws its own baseline responses,
  // so that a sweep's spread over seeds covers the initial model's score too.
  SamplingConfig sampling = eval_sampling(config_.generate, config_.eval);
  sampling.seed = config_.generate.seed + round_seed_offset(config_.run.seed, 0);
  baseline_ = run_baseline_stage(slot_.get(config_.model.path), inputs_.eval_prompts, sampling, paths_, artifacts_);
  complete(stage, seconds_since(start));
}

const std::vector<TrainPrompt>& OnlineRun::round_prompts(std::int64_t round) {
  if (!current_.prompts) {
    current_.prompts = read_round_prompts(paths_.round(round).prompts(), inputs_.dataset, config_.data.train_file);
  }
  return *current_.prompts;
}

const std::vector<GenerationRecord>& OnlineRun::round_generations(std::int64_t round) {
  if (!current_.generations) current_.generations = read_generation_file(paths_.round(round).generations());
  return *current_.generations;
}

const JudgedCandidates& OnlineRun::judged_candidates(std::int64_t round) {
  if (!current_.judged) {
    // After a resume: the judge stage's requests again, its judgments from its file.
    const std::vector<TrainPrompt>& prompts = round_prompts(round);
    const std::vector<GenerationRecord>& generations = round_generations(round);
    JudgedCandidates judged;
    judged.requests = candidate_requests(prompts, generations, inputs_.pairing, samples(round),
                                         paths_.round(round).generations().string());
    judged.judgments = read_judgment_file(paths_.round(round).judgments(), judged.requests);
    current_.judged = std::move(judged);
  }
  return *current_.judged;
}

const ScoredPreferences& OnlineRun::scored_preferences(std::int64_t round) {
  // After a resume the reference stage reads its scores back from its file.
  if (!current_.scored) reference(round);
  return *current_.scored;
}

const std::vector<GenerationRecord>& OnlineRun::baseline_generations() {
  if (!baseline_) baseline_ = read_generation_file(paths_.baseline_generations());
  return *baseline_;
}

void OnlineRun::select(std::int64_t round) {
  const RoundSettings& settings = round_settings(round);
  PromptSliceSpec spec;
  spec.selection = settings.config.online.prompt_selection;
  spec.per_round = settings.config.online.prompts_per_round;
  spec.slices = inputs_.slices;
  spec.shuffle_seed = static_cast<std::uint64_t>(config_.run.seed);
  current_.prompts =
      run_select_stage(inputs_.dataset, spec, round - inputs_.first_round, paths_.round(round), artifacts_);
}

void OnlineRun::generate(std::int64_t round) {
  const std::vector<TrainPrompt>& prompts = round_prompts(round);
  LanguageModel& model = slot_.get(start_model(round));
  current_.generations = run_generate_stage(model, prompts, round_settings(round).config.generate, samples(round),
                                            paths_.round(round), round_label(round) + " generate", artifacts_);
}

void OnlineRun::judge_candidates(std::int64_t round) {
  std::vector<JudgeRequest> requests = candidate_requests(round_prompts(round), round_generations(round), inputs_.pairing,
                                                          samples(round), paths_.round(round).generations().string());
  current_.judged = run_judge_stage(judge(), std::move(requests), config_.judge.batch_size, paths_.round(round),
                                    round_label(round) + " judge", artifacts_);
}

void OnlineRun::pair(std::int64_t round) {
  if (round == 0) {  // offline: the dataset's own pairs
    write_pairing_stage(dataset_pairs(round_prompts(round)), paths_.round(round), artifacts_);
    return;
  }
  const JudgedCandidates& judged = judged_candidates(round);
  const PairedRound paired = pair_judged_candidates(round_prompts(round), round_generations(round), judged.requests,
                                                    judged.judgments, samples(round));
  write_pairing_stage(paired, paths_.round(round), artifacts_);
  const PairingCounts& counts = paired.counts;
  log::info(round_label(round) + " pairs: " + std::to_string(counts.pairs) + " of " + std::to_string(counts.prompts) +
            " prompts (dropped: ties " + std::to_string(counts.dropped_ties) + ", abstained " +
            std::to_string(counts.dropped_abstained) + ", failed " + std::to_string(counts.dropped_failed) +
            ", empty responses " + std::to_string(counts.dropped_empty) + ")");
}

void OnlineRun::reference(std::int64_t round) {
  const auto reference_model = [this, round]() -> LanguageModel& { return slot_.get(start_model(round)); };
  current_.scored =
      run_reference_stage(reference_model, round_settings(round).config.train, paths_.round(round), artifacts_);
}

void OnlineRun::train(std::int64_t round) {
  const ScoredPreferences& data = scored_preferences(round);
  LanguageModel& model = slot_.get(start_model(round));
  run_train_stage(model, data, round_settings(round).config, config_.tokenizer.chat_template, paths_.round(round),
                  round, artifacts_);
  if (slot_.with_adapters()) {
    slot_.hold_trained_adapters(start_model(round), paths_.round(round).adapter(), paths_.round(round).model());
  } else {
    slot_.relabel(paths_.round(round).model());
  }
}

void OnlineRun::evaluate(std::int64_t round) {
  const RoundPaths paths = paths_.round(round);
  EvaluationSettings settings;
  settings.sampling = eval_sampling(config_.generate, config_.eval);
  settings.kl_samples = config_.eval.kl_samples;
  settings.num_examples = config_.eval.num_examples;
  settings.judge_batch_size = config_.judge.batch_size;
  settings.logprob_batch_size = round_settings(round).config.train.batch_size;
  settings.label = round_label(round) + " eval";
  settings.parallel = artifacts_.parallel();
  const std::vector<GenerationRecord>& baseline = baseline_generations();
  // The judge is built before the policy is loaded, as the run has always logged them.
  Judge& eval_judge = judge();
  // With LoRA the policy is the round's starting model with the round's adapter, and the
  // reference the same model with its adapters off. Otherwise the reference is a second model
  // in memory for the KL step only; the policy stays loaded for the next round.
  settings.reference_is_policy_without_adapters = slot_.with_adapters();
  LanguageModel& policy =
      slot_.with_adapters() ? slot_.get(start_model(round), paths.adapter()) : slot_.get(paths.model());
  const auto load_reference = [&] { return load_language_model(start_model(round), config_.model, config_.tokenizer); };
  run_eval_stage(policy, inputs_.eval_prompts, baseline, eval_judge, settings, load_reference,
                 EvalProvenance{round, paths.model(), start_model(round)}, paths, artifacts_);
}

// metrics.jsonl: one line per finished round, rebuilt from the round files each time, so it
// can never hold a duplicate or a line for work that was lost.
void OnlineRun::write_metrics() {
  std::string text;
  for (std::int64_t round = inputs_.first_round; round <= config_.online.rounds; ++round) {
    if (!done(round_dir_name(round) + "/train")) break;
    const MetricsLine line = round_metrics_line(round, round_settings(round).config, paths_.round(round), state_);
    text += metrics_line_to_json(line).dump() + "\n";
  }
  artifacts_.write_file(paths_.metrics(), text);
}

bool OnlineRun::run_round(std::int64_t round) {
  current_ = RoundOutputs{};
  const std::string prefix = round_dir_name(round) + "/";
  (void)round_settings(round);
  const std::string label = "round " + std::to_string(round) + "/" + std::to_string(config_.online.rounds);
  auto stage = [&](const std::string& name, void (OnlineRun::*work)(std::int64_t)) {
    const std::string full = prefix + name;
    if (done(full)) return true;
    log::info(label + ": " + name);
    const auto start = std::chrono::steady_clock::now();
    (this->*work)(round);
    complete(full, seconds_since(start));
    return !should_stop(full);
  };
  const bool offline = round == 0;
  if (!stage("select", &OnlineRun::select)) return false;
  if (!offline) {
    if (!stage("generate", &OnlineRun::generate)) return false;
    if (!stage("judge", &OnlineRun::judge_candidates)) return false;
  }
  if (!stage("pair", &OnlineRun::pair)) return false;
  if (!stage("reference", &OnlineRun::reference)) return false;
  if (!stage("train", &OnlineRun::train)) return false;
  // The checkpoint (weights + optimiser state) is not needed once the round's model exists.
  artifacts_.write_with([&] { fs::remove_all(paths_.round(round).checkpoint()); });
  if (config_.eval.enabled) {
    if (!stage("eval", &OnlineRun::evaluate)) return false;
  }
  write_metrics();
  current_ = RoundOutputs{};
  return true;
}

void OnlineRun::write_report() {
  const auto start = std::chrono::steady_clock::now();
  artifacts_.write_with([&] { std::cout << options_.write_report(paths_.dir); });
  complete("report", seconds_since(start));
}

OnlineTrainResult OnlineRun::run() {
  inputs_ = read_online_run_inputs(config_);
  open_run_directory();
  OnlineTrainResult result;
  result.run_dir = paths_.dir;
  if (state_.finished) {
    // A report that a crash or a full disk prevented is drawn now.
    const bool report_missing = !done("report") && options_.write_report;
    if (report_missing) {
      write_report();
    } else {
      log::info(paths_.dir.string() + ": this run has finished; nothing to do (delete the directory or change "
                "run.name to start again)");
    }
    result.already_finished = !report_missing;
    result.state = state_;
    return result;
  }
  if (!state_.completed.empty()) {
    log::info("resuming " + paths_.dir.string() + " after stage " + state_.completed.back());
  }
  write_initial_model();

  run_baseline();
  if (should_stop("baseline")) result.stopped_early = true;
  for (std::int64_t round = inputs_.first_round; !result.stopped_early && round <= config_.online.rounds; ++round) {
    if (!run_round(round)) result.stopped_early = true;
  }
  if (!result.stopped_early) {
    slot_.release();
    // Finished before the report is drawn, so that the report says so; a report lost to a crash
    // here is drawn by the next `selm train` (or by `selm report`).
    state_.finished = true;
    write_run_state(artifacts_, paths_.state(), state_);
    if (!done("report") && options_.write_report) write_report();
    log::info("run finished: " + paths_.dir.string());
  }
  result.state = state_;
  return result;
}

}  // namespace

OnlineTrainResult run_online_training(const Config& config, const OnlineTrainOptions& options) {
  OnlineRun run(config, options);
  return run.run();
}

}  // namespace selm
