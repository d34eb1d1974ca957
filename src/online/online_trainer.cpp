#include "selm/online/online_trainer.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <set>

#include <nlohmann/json.hpp>

#include "selm/eval/evaluation.hpp"
#include "selm/generate/generation_file.hpp"
#include "selm/util/sha256.hpp"
#include "selm/judge/judge_factory.hpp"
#include "selm/judge/judge_file.hpp"
#include "selm/model/language_model.hpp"
#include "selm/online/pairing.hpp"
#include "selm/tasks/task.hpp"
#include "selm/train/preference_step.hpp"
#include "selm/train/preference_trainer.hpp"
#include "selm/train/shuffle.hpp"
#include "selm/util/clock.hpp"
#include "selm/util/error.hpp"
#include "selm/util/files.hpp"
#include "selm/util/log.hpp"

namespace selm {

namespace {

constexpr const char* kConfigFile = "config.yaml";
constexpr const char* kMetricsFile = "metrics.jsonl";
constexpr const char* kBaselineDir = "baseline";
constexpr const char* kEvalGenerations = "eval_generations.jsonl";

// One prompt of the training set: where it came from and its conversation.
struct TrainPrompt {
  std::int64_t dataset_index = 0;
  std::size_t line = 0;
  nlohmann::json record;                // the line as read
  std::vector<ChatMessage> messages;    // the prompt
};

nlohmann::json messages_json(const std::vector<ChatMessage>& messages) {
  nlohmann::json list = nlohmann::json::array();
  for (const auto& message : messages) list.push_back({{"role", message.role}, {"content", message.content}});
  return list;
}

// The prompt value stored in generation records: the record's "prompt" when it is one, else
// the conversation.
nlohmann::json prompt_value(const nlohmann::json& record, const std::vector<ChatMessage>& messages) {
  if (record.contains("prompt")) return record.at("prompt");
  return messages_json(messages);
}

// The model currently in memory, reloaded only when another directory is asked for. Training
// updates it in place; `relabel` then records which directory its weights now equal.
class ModelSlot {
 public:
  explicit ModelSlot(const Config& config) : config_(config) {}

  LanguageModel& get(const fs::path& directory) {
    if (!model_ || directory != directory_) {
      model_.reset();
      log::info("loading model " + directory.string());
      model_.emplace(load_language_model(directory, config_.model, config_.tokenizer));
      model_->model->eval();
      directory_ = directory;
    }
    return *model_;
  }
  void relabel(const fs::path& directory) { directory_ = directory; }
  void release() {
    model_.reset();
    directory_.clear();
  }

 private:
  const Config& config_;
  std::optional<LanguageModel> model_;
  fs::path directory_;
};

class OnlineRun {
 public:
  // `task`: the built-in task's assets when the config names one (their SFT perplexity goes
  // into initial_model.json), else null.
  OnlineRun(const Config& config, const OnlineTrainOptions& options, const TaskAssets* task)
      : config_(config), options_(options), slot_(config_), task_(task) {}

  OnlineTrainResult run();

 private:
  // Stage bookkeeping.
  bool done(const std::string& stage) const { return state_.is_completed(stage); }
  void complete(const std::string& stage, double seconds);
  bool should_stop(const std::string& stage) const { return options_.stop_after_stage == stage; }

  void validate_inputs();
  void open_run_directory();
  // The round's settings (round_overrides applied, seeds offset), built once per round.
  const Config& round_config(std::int64_t round);
  // run.seed varies the whole online procedure (the seeds of a sweep), and each round samples
  // and shuffles afresh: with prompt_selection all, the same prompt gets new draws. Round 0
  // (offline, nothing generated) shares its offset with the baseline's sampled responses.
  std::int64_t seed_offset(std::int64_t round) const { return 1000003 * config_.run.seed + round; }
  fs::path round_dir(std::int64_t round) const { return run_dir_ / ("round-" + std::to_string(round)); }
  fs::path start_model(std::int64_t round) const;
  Judge& judge();

  void run_baseline();
  // Each returns false when the run must stop after it (stop_after_stage).
  bool run_round(std::int64_t round);
  void select_prompts(std::int64_t round, const Config& round_config);
  std::vector<TrainPrompt> read_round_prompts(std::int64_t round) const;
  void generate_candidates(std::int64_t round, const Config& round_config);
  void judge_candidates(std::int64_t round, const Config& round_config);
  void pair_candidates(std::int64_t round, const Config& round_config);
  void write_dataset_pairs(std::int64_t round);
  std::vector<PreferenceRecord> reference_records(std::int64_t round, const Config& round_config,
                                                  PreferenceData* data_out);
  void train_round(std::int64_t round, const Config& round_config);
  void evaluate_round(std::int64_t round, const Config& round_config);
  void write_metrics();

  // The judge's requests for the round: {new response, dataset chosen, dataset rejected} (selm)
  // or the samples (best_worst), one request per prompt.
  std::vector<JudgeRequest> candidate_requests(std::int64_t round, const Config& round_config,
                                               const std::vector<TrainPrompt>& prompts,
                                               const std::vector<GenerationRecord>& generations) const;

  const Config& config_;
  OnlineTrainOptions options_;
  ModelSlot slot_;
  fs::path run_dir_;
  RunState state_;
  PairingStrategy pairing_ = PairingStrategy::selm;
  std::int64_t first_round_ = 1;
  std::vector<TrainPrompt> train_prompts_;
  std::vector<EvalPrompt> eval_prompts_;
  std::unique_ptr<Judge> judge_;
  const TaskAssets* task_;
  std::map<std::int64_t, Config> round_configs_;
};

void OnlineRun::complete(const std::string& stage, double seconds) {
  state_.completed.push_back(stage);
  state_.stage_seconds[stage] += seconds;
  write_run_state(run_dir_ / kRunStateFile, state_);
  char text[64];
  std::snprintf(text, sizeof(text), " done in %.1f s", seconds);
  log::info("stage " + stage + text);
}

// Everything the run reads is checked before the run directory is created or changed.
void OnlineRun::validate_inputs() {
  pairing_ = config_.online.pairing;
  first_round_ = config_.online.offline_round0 ? 0 : 1;
  if (config_.model.path.empty()) throw InputError("key 'model.path': required (the initial policy and reference)");
  if (config_.data.train_file.empty()) throw InputError("key 'data.train_file': required (the training prompts)");
  if (pairing_ == PairingStrategy::best_worst && config_.generate.num_samples < 2) {
    throw InputError("key 'generate.num_samples': online.pairing best_worst needs at least 2 samples per prompt");
  }
  const bool needs_pairs = pairing_ == PairingStrategy::selm || config_.online.offline_round0;
  const std::string train_file = config_.data.train_file;
  std::int64_t index = 0;
  for (const auto& [line, record] : read_jsonl(train_file)) {
    TrainPrompt prompt;
    prompt.dataset_index = index++;
    prompt.line = line;
    prompt.record = record;
    if (needs_pairs) {
      prompt.messages = parse_preference_record(record, train_file, line).prompt;
    } else {
      prompt.messages = parse_prompt_record(record, train_file, line);
    }
    train_prompts_.push_back(std::move(prompt));
  }
  if (train_prompts_.empty()) throw InputError(train_file + ": no prompts");
  const std::int64_t slices = config_.online.rounds + (config_.online.offline_round0 ? 1 : 0);
  const auto available = static_cast<std::int64_t>(train_prompts_.size());
  const std::int64_t per_round = config_.online.prompts_per_round;
  if (config_.online.prompt_selection != PromptSelection::all && per_round * slices > available) {
    throw InputError("key 'online.prompts_per_round': " + std::to_string(per_round) + " x " + std::to_string(slices) +
                     " rounds needs more than the " + std::to_string(available) + " prompts of " + train_file);
  }
  if (config_.online.prompt_selection != PromptSelection::all && per_round == 0 && available < slices) {
    throw InputError(train_file + ": " + std::to_string(available) + " prompts cannot fill " + std::to_string(slices) +
                     " rounds");
  }
  for (std::size_t k = 0; k < config_.online.round_overrides.size(); ++k) {
    // Each round's overrides must make a valid config: checked now, not rounds later.
    (void)load_config({}, {}, config_.online.round_overrides[k]);
  }
  if (config_.eval.enabled) {
    if (config_.data.eval_file.empty()) {
      throw InputError("key 'data.eval_file': required when eval.enabled is true (held-out prompts)");
    }
    eval_prompts_ = read_eval_prompts(config_.data.eval_file, config_.eval.max_prompts);
  }
  if (!fs::is_directory(config_.model.path)) {
    throw InputError("key 'model.path': '" + config_.model.path + "' is not a model directory");
  }
}

void OnlineRun::open_run_directory() {
  run_dir_ = fs::path(config_.run.output_dir) / config_.run.name;
  const fs::path state_file = run_dir_ / kRunStateFile;
  if (fs::exists(state_file)) {
    state_ = read_run_state(state_file);
    const Config stored = load_config({(run_dir_ / kConfigFile).string()}, {});
    const std::vector<std::string> differences = result_deciding_differences(stored, config_);
    if (!differences.empty()) {
      std::string text;
      for (const auto& difference : differences) text += "\n  " + difference;
      if (!options_.force) {
        throw InputError(run_dir_.string() + ": the config differs from the one this run started with in keys that "
                         "change results:" + text + "\nRerun with --force to continue with the new config, or use "
                         "another run.name");
      }
      log::warn("continuing " + run_dir_.string() + " with a changed config (--force):" + text);
    }
  } else {
    fs::create_directories(run_dir_);
    state_ = RunState{};
  }
  write_file_atomic(run_dir_ / kConfigFile, dump_config_yaml(config_));
  state_.config_fingerprint = config_fingerprint(config_);
  if (!state_.finished) write_run_state(state_file, state_);
  log::set_file(run_dir_ / "log.txt");
}

const Config& OnlineRun::round_config(std::int64_t round) {
  const auto cached = round_configs_.find(round);
  if (cached != round_configs_.end()) return cached->second;
  std::vector<std::string> overrides;
  if (round == 0) overrides.push_back("train.loss=dpo");
  const auto position = static_cast<std::size_t>(round - first_round_);
  OverrideList round_changes;
  if (position < config_.online.round_overrides.size()) round_changes = config_.online.round_overrides[position];
  Config result = load_config({(run_dir_ / kConfigFile).string()}, overrides, round_changes);
  result.generate.seed = config_.generate.seed + seed_offset(round);
  result.train.seed = config_.train.seed + seed_offset(round);
  return round_configs_.emplace(round, std::move(result)).first->second;
}

fs::path OnlineRun::start_model(std::int64_t round) const {
  if (round == first_round_) return config_.model.path;
  return round_dir(round - 1) / kFinalModelDir;
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
  log::info("baseline: the initial model's responses to " + std::to_string(eval_prompts_.size()) + " eval prompts");
  const auto start = std::chrono::steady_clock::now();
  fs::create_directories(run_dir_ / kBaselineDir);
  // With sampled evaluation (eval.temperature > 0) each run.seed draws its own baseline responses,
  // so that a sweep's spread over seeds covers the initial model's score too.
  SamplingConfig sampling = eval_sampling(config_.generate, config_.eval);
  sampling.seed = config_.generate.seed + seed_offset(0);
  generate_eval_responses(slot_.get(config_.model.path), eval_prompts_, sampling,
                          run_dir_ / kBaselineDir / kEvalGenerations, "baseline");
  complete(stage, seconds_since(start));
}

void OnlineRun::select_prompts(std::int64_t round, const Config& round_config) {
  const auto total = static_cast<std::int64_t>(train_prompts_.size());
  const std::int64_t slices = config_.online.rounds + (config_.online.offline_round0 ? 1 : 0);
  const std::int64_t slice = round - first_round_;
  const PromptSelection selection = round_config.online.prompt_selection;
  std::int64_t per_round = round_config.online.prompts_per_round;
  if (per_round == 0) per_round = selection == PromptSelection::all ? total : total / slices;
  per_round = std::min(per_round, total);
  std::vector<std::int64_t> order(static_cast<std::size_t>(total));
  for (std::int64_t i = 0; i < total; ++i) order[static_cast<std::size_t>(i)] = i;
  if (selection == PromptSelection::shuffle) {
    order = epoch_permutation(total, static_cast<std::uint64_t>(config_.run.seed), 0);
  }
  const std::int64_t begin = selection == PromptSelection::all ? 0 : slice * per_round;
  std::string text;
  for (std::int64_t k = begin; k < begin + per_round; ++k) {
    const TrainPrompt& prompt = train_prompts_[static_cast<std::size_t>(order[static_cast<std::size_t>(k)])];
    text += nlohmann::json{{"dataset_index", prompt.dataset_index}, {"line", prompt.line}, {"record", prompt.record}}
                .dump() +
            "\n";
  }
  fs::create_directories(round_dir(round));
  write_file_atomic(round_dir(round) / "prompts.jsonl", text);
}

std::vector<TrainPrompt> OnlineRun::read_round_prompts(std::int64_t round) const {
  const fs::path path = round_dir(round) / "prompts.jsonl";
  std::vector<TrainPrompt> prompts;
  for (const auto& [line, value] : read_jsonl(path)) {
    (void)line;
    const auto index = value.at("dataset_index").get<std::int64_t>();
    if (index < 0 || index >= static_cast<std::int64_t>(train_prompts_.size())) {
      throw InputError(path.string() + ": dataset_index " + std::to_string(index) + " is not in " +
                       config_.data.train_file + " any more");
    }
    prompts.push_back(train_prompts_[static_cast<std::size_t>(index)]);
  }
  return prompts;
}

void OnlineRun::generate_candidates(std::int64_t round, const Config& round_config) {
  const std::vector<TrainPrompt> prompts = read_round_prompts(round);
  LanguageModel& lm = slot_.get(start_model(round));
  SamplingConfig sampling = round_config.generate;
  if (pairing_ == PairingStrategy::selm) sampling.num_samples = 1;
  const ChatFormatter& formatter = *lm.formatter;
  Generator generator(lm.model, sampling, formatter.stop_ids(),
                      [&formatter](const std::vector<std::int64_t>& ids) { return formatter.decode_response(ids); });
  std::vector<std::vector<std::int64_t>> ids;
  std::vector<nlohmann::json> values;
  for (const auto& prompt : prompts) {
    ids.push_back(formatter.encode_prompt(prompt.messages));
    values.push_back(prompt_value(prompt.record, prompt.messages));
  }
  generate_to_file(generator, formatter, ids, values, round_dir(round) / "generations.jsonl", true,
                   "round " + std::to_string(round) + " generate");
}

std::vector<JudgeRequest> OnlineRun::candidate_requests(std::int64_t round, const Config& round_config,
                                                        const std::vector<TrainPrompt>& prompts,
                                                        const std::vector<GenerationRecord>& generations) const {
  const std::int64_t samples = pairing_ == PairingStrategy::selm ? 1 : round_config.generate.num_samples;
  if (static_cast<std::int64_t>(generations.size()) != static_cast<std::int64_t>(prompts.size()) * samples) {
    throw std::runtime_error((round_dir(round) / "generations.jsonl").string() + ": expected " +
                             std::to_string(prompts.size() * static_cast<std::size_t>(samples)) + " records, found " +
                             std::to_string(generations.size()));
  }
  std::vector<JudgeRequest> requests;
  for (std::size_t i = 0; i < prompts.size(); ++i) {
    JudgeRequest request;
    request.id = std::to_string(i);
    request.prompt = prompt_text_for_judge(prompts[i].messages);
    if (pairing_ == PairingStrategy::selm) {
      const PreferenceRecord pair = parse_preference_record(prompts[i].record, config_.data.train_file, prompts[i].line);
      request.candidates = {generations[i].response, pair.chosen, pair.rejected};
    } else {
      for (std::int64_t s = 0; s < samples; ++s) {
        request.candidates.push_back(generations[i * static_cast<std::size_t>(samples) + static_cast<std::size_t>(s)].response);
      }
    }
    requests.push_back(std::move(request));
  }
  return requests;
}

void OnlineRun::judge_candidates(std::int64_t round, const Config& round_config) {
  const std::vector<JudgeRequest> requests =
      candidate_requests(round, round_config, read_round_prompts(round),
                         read_generation_file(round_dir(round) / "generations.jsonl"));
  judge_to_file(judge(), requests, round_dir(round) / "judgments.jsonl",
                config_.judge.batch_size, "round " + std::to_string(round) + " judge");
}

void OnlineRun::pair_candidates(std::int64_t round, const Config& round_config) {
  const std::vector<TrainPrompt> prompts = read_round_prompts(round);
  const std::vector<GenerationRecord> generations = read_generation_file(round_dir(round) / "generations.jsonl");
  const std::vector<JudgeRequest> requests = candidate_requests(round, round_config, prompts, generations);
  // The judgments were all written by the judge stage; this reads them back in request order.
  const std::vector<Judgment> judgments =
      judge_to_file(judge(), requests, round_dir(round) / "judgments.jsonl", config_.judge.batch_size);
  const std::int64_t samples = pairing_ == PairingStrategy::selm ? 1 : round_config.generate.num_samples;
  PairingCounts counts;
  std::string text;
  for (std::size_t i = 0; i < prompts.size(); ++i) {
    PairingDecision decision = decide_pair(judgments[i]);
    const auto& candidates = requests[i].candidates;
    if (decision.outcome == PairingOutcome::pair &&
        candidates[static_cast<std::size_t>(decision.chosen)] == candidates[static_cast<std::size_t>(decision.rejected)]) {
      decision.outcome = PairingOutcome::tie;  // the same text on both sides teaches nothing
    }
    // y_ref: the new response (selm) or sample 0 (best_worst), with its generated ids and the
    // log-prob the generating model (this round's reference) gave them.
    const GenerationRecord& y_ref = generations[i * static_cast<std::size_t>(samples)];
    if (decision.outcome == PairingOutcome::pair &&
        (y_ref.response.empty() || candidates[static_cast<std::size_t>(decision.chosen)].empty() ||
         candidates[static_cast<std::size_t>(decision.rejected)].empty())) {
      decision.outcome = PairingOutcome::empty;
    }
    counts.add(decision.outcome);
    if (decision.outcome != PairingOutcome::pair) continue;
    PreferenceRecord record;
    record.prompt = prompts[i].messages;
    record.chosen = candidates[static_cast<std::size_t>(decision.chosen)];
    record.rejected = candidates[static_cast<std::size_t>(decision.rejected)];
    record.reference_response = y_ref.response;
    record.reference_response_ids = y_ref.token_ids;
    nlohmann::json value = preference_record_to_json(record);
    value["reference_response_logprob"] = y_ref.logprob;
    value["dataset_index"] = prompts[i].dataset_index;
    text += value.dump() + "\n";
  }
  write_file_atomic(round_dir(round) / "preferences.jsonl", text);
  write_file_atomic(round_dir(round) / "pairing.json", counts.to_json().dump(2) + "\n");
  log::info("round " + std::to_string(round) + " pairs: " + std::to_string(counts.pairs) + " of " +
            std::to_string(counts.prompts) + " prompts (dropped: ties " + std::to_string(counts.dropped_ties) +
            ", abstained " + std::to_string(counts.dropped_abstained) + ", failed " +
            std::to_string(counts.dropped_failed) + ", empty responses " + std::to_string(counts.dropped_empty) + ")");
}

void OnlineRun::write_dataset_pairs(std::int64_t round) {
  std::string text;
  PairingCounts counts;
  for (const TrainPrompt& prompt : read_round_prompts(round)) {
    const PreferenceRecord record = parse_preference_record(prompt.record, config_.data.train_file, prompt.line);
    PreferenceRecord pair;
    pair.prompt = record.prompt;
    pair.chosen = record.chosen;
    pair.rejected = record.rejected;
    nlohmann::json value = preference_record_to_json(pair);
    value["dataset_index"] = prompt.dataset_index;
    text += value.dump() + "\n";
    counts.add(PairingOutcome::pair);
  }
  write_file_atomic(round_dir(round) / "preferences.jsonl", text);
  write_file_atomic(round_dir(round) / "pairing.json", counts.to_json().dump(2) + "\n");
}

std::vector<PreferenceRecord> OnlineRun::reference_records(std::int64_t round, const Config& round_config,
                                                           PreferenceData* data_out) {
  const fs::path preferences = round_dir(round) / "preferences.jsonl";
  if (fs::file_size(preferences) == 0) return {};  // every prompt tied or abstained
  LanguageModel& lm = slot_.get(start_model(round));
  const bool with_y_ref = loss_uses_reference_response(preference_loss_options(round_config.train));
  PreferenceData data = load_preference_data(preferences, lm, round_config.train, with_y_ref);
  std::vector<PreferenceRecord> records = reference_scored_records(lm.model, data, round_config.train, pad_id_of(lm),
                                                                  with_y_ref, round_dir(round) / kReferenceCacheFile);
  if (data_out != nullptr) *data_out = std::move(data);
  return records;
}

void OnlineRun::train_round(std::int64_t round, const Config& round_config) {
  PreferenceData data;
  const std::vector<PreferenceRecord> records = reference_records(round, round_config, &data);
  LanguageModel& lm = slot_.get(start_model(round));
  const fs::path destination = round_dir(round) / kFinalModelDir;
  if (records.empty()) {
    // Every prompt tied or abstained: the round keeps its starting model.
    log::warn("round " + std::to_string(round) + ": no preference pairs; the round's model is its starting model");
    write_model_directory(lm, destination, config_.tokenizer.chat_template);
    slot_.relabel(destination);
    return;
  }
  PreferenceTrainingOptions options;
  options.output_dir = round_dir(round);
  options.config_yaml = dump_config_yaml(round_config);
  options.chat_template = config_.tokenizer.chat_template;
  const TrainingResult result = train_preference_model(lm, records, data.examples, round_config.train, options);
  if (!result.finished) throw std::runtime_error("round " + std::to_string(round) + ": training stopped early");
  slot_.relabel(destination);
}

void OnlineRun::evaluate_round(std::int64_t round, const Config& round_config) {
  const fs::path dir = round_dir(round);
  EvaluationSettings settings;
  settings.sampling = eval_sampling(config_.generate, config_.eval);
  settings.kl_samples = config_.eval.kl_samples;
  settings.num_examples = config_.eval.num_examples;
  settings.judge_batch_size = config_.judge.batch_size;
  settings.logprob_batch_size = round_config.train.batch_size;
  settings.label = "round " + std::to_string(round) + " eval";
  const std::vector<GenerationRecord> baseline = read_generation_file(run_dir_ / kBaselineDir / kEvalGenerations);
  // The reference is a second model in memory for the KL step only; the policy stays loaded for
  // the next round.
  const EvalResult result = evaluate_policy(slot_.get(dir / kFinalModelDir), eval_prompts_, baseline, judge(), settings,
                                            dir, [&] {
                                              return load_language_model(start_model(round), config_.model,
                                                                         config_.tokenizer);
                                            });
  nlohmann::json value = eval_result_to_json(result);
  value["round"] = round;
  value["model"] = (dir / kFinalModelDir).string();
  value["reference"] = start_model(round).string();
  value["judge"] = {{"id", judge().id()}, {"config_hash", judge().config_hash()}};
  write_file_atomic(dir / "eval.json", value.dump(2) + "\n");
  log::info(settings.label + ": " + describe_eval_result(result));
}

// metrics.jsonl: one line per finished round, rebuilt from the round files each time, so it
// can never hold a duplicate or a line for work that was lost.
void OnlineRun::write_metrics() {
  std::string text;
  const std::int64_t last_round = config_.online.rounds;
  for (std::int64_t round = first_round_; round <= last_round; ++round) {
    const fs::path dir = round_dir(round);
    if (!done("round-" + std::to_string(round) + "/train")) break;
    const Config& round_settings = round_config(round);
    nlohmann::json line = {{"round", round},
                           {"loss", enum_name(round_settings.train.loss)},
                           {"alpha", round_settings.train.alpha},
                           {"beta", round_settings.train.beta},
                           {"learning_rate", round_settings.train.learning_rate}};
    if (fs::exists(dir / "eval.json")) {
      const nlohmann::json eval = nlohmann::json::parse(read_file(dir / "eval.json"));
      for (const auto& [key, value] : eval.items()) {
        if (key == "scores" || key == "baseline_scores" || key == "examples") continue;
        line[key] = value;
      }
    }
    if (fs::exists(dir / "pairing.json")) {
      const nlohmann::json pairing = nlohmann::json::parse(read_file(dir / "pairing.json"));
      for (const auto& [key, value] : pairing.items()) {
        if (key != "prompts") line[key] = value;
      }
    }
    // Means over the round's logged steps.
    std::map<std::string, std::pair<double, int>> sums;
    if (fs::exists(dir / kTrainMetricsFile)) {
      for (const auto& [number, record] : read_jsonl(dir / kTrainMetricsFile, true)) {
        (void)number;
        for (const char* key : {"loss", "rewards/accuracies", "rewards/margins"}) {
          if (record.contains(key) && record.at(key).is_number()) {
            sums[key].first += record.at(key).get<double>();
            sums[key].second += 1;
          }
        }
      }
    }
    auto mean_of = [&sums](const char* key) -> nlohmann::json {
      const auto it = sums.find(key);
      if (it == sums.end() || it->second.second == 0) return nullptr;
      return it->second.first / it->second.second;
    };
    line["train_loss"] = mean_of("loss");
    line["train_accuracy"] = mean_of("rewards/accuracies");
    line["train_margin"] = mean_of("rewards/margins");
    nlohmann::json seconds = nlohmann::json::object();
    const std::string prefix = "round-" + std::to_string(round) + "/";
    for (const auto& [stage, value] : state_.stage_seconds) {
      if (stage.rfind(prefix, 0) == 0) seconds[stage.substr(prefix.size())] = value;
    }
    line["stage_seconds"] = seconds;
    text += line.dump() + "\n";
  }
  write_file_atomic(run_dir_ / kMetricsFile, text);
}

bool OnlineRun::run_round(std::int64_t round) {
  const std::string prefix = "round-" + std::to_string(round) + "/";
  const Config& settings = round_config(round);
  const std::string label = "round " + std::to_string(round) + "/" + std::to_string(config_.online.rounds);
  auto stage = [&](const std::string& name, const std::function<void()>& work) {
    const std::string full = prefix + name;
    if (done(full)) return true;
    log::info(label + ": " + name);
    const auto start = std::chrono::steady_clock::now();
    work();
    complete(full, seconds_since(start));
    return !should_stop(full);
  };
  const bool offline = round == 0;
  if (!stage("select", [&] { select_prompts(round, settings); })) return false;
  if (!offline) {
    if (!stage("generate", [&] { generate_candidates(round, settings); })) return false;
    if (!stage("judge", [&] { judge_candidates(round, settings); })) return false;
  }
  if (!stage("pair", [&] { offline ? write_dataset_pairs(round) : pair_candidates(round, settings); })) return false;
  if (!stage("reference", [&] { reference_records(round, settings, nullptr); })) return false;
  if (!stage("train", [&] { train_round(round, settings); })) return false;
  // The checkpoint (weights + optimiser state) is not needed once the round's model exists.
  fs::remove_all(round_dir(round) / "checkpoint");
  if (config_.eval.enabled) {
    if (!stage("eval", [&] { evaluate_round(round, settings); })) return false;
  }
  write_metrics();
  return true;
}

OnlineTrainResult OnlineRun::run() {
  validate_inputs();
  open_run_directory();
  OnlineTrainResult result;
  result.run_dir = run_dir_;
  if (state_.finished) {
    log::info(run_dir_.string() + ": this run has finished; nothing to do (delete the directory or change run.name "
              "to start again)");
    result.already_finished = true;
    result.state = state_;
    return result;
  }
  if (!state_.completed.empty()) {
    log::info("resuming " + run_dir_.string() + " after stage " + state_.completed.back());
  }
  nlohmann::json initial = {{"path", config_.model.path}, {"perplexity", nullptr}, {"source", "config"}};
  const fs::path initial_file = run_dir_ / "initial_model.json";
  if (fs::exists(initial_file)) initial = nlohmann::json::parse(read_file(initial_file));
  initial["path"] = config_.model.path;
  if (task_ != nullptr) {
    initial["source"] = "task:" + task_->task;
    initial["perplexity"] = task_->sft_perplexity;
    initial["initial_perplexity"] = task_->initial_perplexity;
    initial["perplexity_file"] = task_->sft_eval_report.string();
  }
  write_file_atomic(initial_file, initial.dump(2) + "\n");

  run_baseline();
  if (should_stop("baseline")) {
    result.stopped_early = true;
  }
  for (std::int64_t round = first_round_; !result.stopped_early && round <= config_.online.rounds; ++round) {
    if (!run_round(round)) result.stopped_early = true;
  }
  if (!result.stopped_early) {
    slot_.release();
    // Finished before the report is drawn, so that the report says so; a report lost to a crash
    // here is redrawn by `selm report`.
    state_.finished = true;
    write_run_state(run_dir_ / kRunStateFile, state_);
    if (!done("report") && options_.write_report) {
      const auto start = std::chrono::steady_clock::now();
      std::cout << options_.write_report(run_dir_);
      complete("report", seconds_since(start));
    }
    log::info("run finished: " + run_dir_.string());
  }
  result.state = state_;
  return result;
}

}  // namespace

std::vector<std::string> result_deciding_differences(const Config& before, const Config& after) {
  const auto old_values = result_deciding_values(before);
  const auto new_values = result_deciding_values(after);
  std::vector<std::string> differences;
  std::set<std::string> keys;
  for (const auto& entry : old_values) keys.insert(entry.first);
  for (const auto& entry : new_values) keys.insert(entry.first);
  for (const auto& key : keys) {
    const auto old_it = old_values.find(key);
    const auto new_it = new_values.find(key);
    const std::string old_value = old_it == old_values.end() ? "(unset)" : old_it->second;
    const std::string new_value = new_it == new_values.end() ? "(unset)" : new_it->second;
    if (old_value != new_value) differences.push_back(key + ": " + old_value + " -> " + new_value);
  }
  return differences;
}

std::string config_fingerprint(const Config& config) {
  std::string text;
  for (const auto& [key, value] : result_deciding_values(config)) text += key + "=" + value + "\n";
  return sha256_hex(text).substr(0, 16);
}

OnlineTrainResult run_online_training(const Config& config, const OnlineTrainOptions& options) {
  if (config.task.name.empty()) {
    OnlineRun run(config, options, nullptr);
    return run.run();
  }
  // A built-in task prepares (or reuses from its cache) the data and the initial model, and
  // fills the keys the config leaves empty.
  const TaskAssets assets = prepare_task(config);
  const Config prepared = apply_task(config, assets);
  OnlineRun run(prepared, options, &assets);
  return run.run();
}

}  // namespace selm
