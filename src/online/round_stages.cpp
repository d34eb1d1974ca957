#include "selm/online/round_stages.hpp"

#include "selm/judge/judge_file.hpp"
#include "selm/train/checkpoint.hpp"
#include "selm/train/preference_step.hpp"
#include "selm/train/preference_trainer.hpp"
#include "selm/train/training_loop.hpp"
#include "selm/util/files.hpp"
#include "selm/util/log.hpp"

namespace selm {

std::vector<GenerationRecord> run_baseline_stage(LanguageModel& initial_model, const std::vector<EvalPrompt>& prompts,
                                                 const SamplingConfig& sampling, const RunPaths& paths,
                                                 const SharedArtifacts& artifacts) {
  fs::create_directories(paths.baseline_dir());
  GenerationFileOptions options;
  options.label = "baseline";
  options.parallel = artifacts.parallel();
  return generate_eval_responses(initial_model, prompts, sampling, paths.baseline_generations(), options);
}

std::vector<TrainPrompt> run_select_stage(const std::vector<TrainPrompt>& dataset, const PromptSliceSpec& spec,
                                          std::int64_t slice, const RoundPaths& paths,
                                          const SharedArtifacts& artifacts) {
  std::vector<TrainPrompt> prompts;
  for (const std::int64_t index : select_prompt_indices(static_cast<std::int64_t>(dataset.size()), spec, slice)) {
    prompts.push_back(dataset[static_cast<std::size_t>(index)]);
  }
  fs::create_directories(paths.dir);
  artifacts.write_file(paths.prompts(), prompts_jsonl(prompts));
  return prompts;
}

std::vector<GenerationRecord> run_generate_stage(LanguageModel& start_model, const std::vector<TrainPrompt>& prompts,
                                                 SamplingConfig sampling, std::int64_t samples,
                                                 const RoundPaths& paths, const std::string& label,
                                                 const SharedArtifacts& artifacts) {
  sampling.num_samples = samples;
  const ChatFormatter& formatter = *start_model.formatter;
  Generator generator = response_generator(start_model, sampling);
  std::vector<std::vector<std::int64_t>> ids;
  std::vector<nlohmann::json> values;
  for (const auto& prompt : prompts) {
    ids.push_back(formatter.encode_prompt(prompt.messages));
    values.push_back(prompt_value(prompt));
  }
  GenerationFileOptions options;
  options.label = label;
  options.parallel = artifacts.parallel();
  generate_to_file(generator, formatter, ids, values, paths.generations(), options);
  return read_generation_file(paths.generations());
}

JudgedCandidates run_judge_stage(Judge& judge, std::vector<JudgeRequest> requests, std::int64_t batch_size,
                                 const RoundPaths& paths, const std::string& label, const SharedArtifacts& artifacts) {
  JudgeFileOptions options;
  options.batch_size = batch_size;
  options.label = label;
  options.parallel = artifacts.parallel();
  JudgedCandidates judged;
  judged.judgments = judge_to_file(judge, requests, paths.judgments(), options);
  judged.requests = std::move(requests);
  return judged;
}

void write_pairing_stage(const PairedRound& paired, const RoundPaths& paths, const SharedArtifacts& artifacts) {
  artifacts.write_file(paths.preferences(), preferences_jsonl(paired.preferences));
  write_pairing_counts(artifacts, paths.pairing(), paired.counts);
}

ScoredPreferences run_reference_stage(const std::function<LanguageModel&()>& reference, const TrainConfig& train,
                                      const RoundPaths& paths, const SharedArtifacts& artifacts) {
  if (fs::file_size(paths.preferences()) == 0) return {};  // every prompt tied or abstained
  LanguageModel& lm = reference();
  const bool with_y_ref = loss_uses_reference_response(preference_loss_options(train));
  PreferenceData data = load_preference_data(paths.preferences(), lm, train, with_y_ref);
  ScoredPreferences scored;
  scored.records =
      reference_scored_records(lm.model, data, train, pad_id_of(lm),
                               ReferenceScoringOptions{with_y_ref, paths.reference_scored(), artifacts.parallel()});
  scored.examples = std::move(data.examples);
  return scored;
}

void run_train_stage(LanguageModel& policy, const ScoredPreferences& data, const Config& round_config,
                     const std::string& chat_template, const RoundPaths& paths, std::int64_t round,
                     const SharedArtifacts& artifacts) {
  if (data.records.empty()) {
    // Every prompt tied or abstained: the round keeps its starting model.
    log::warn("round " + std::to_string(round) + ": no preference pairs; the round's model is its starting model");
    artifacts.write_with([&] { write_trained_model(policy, paths.dir, chat_template); });
    return;
  }
  PreferenceTrainingOptions options;
  options.output_dir = paths.dir;
  options.config_yaml = dump_config_yaml(round_config);
  options.chat_template = chat_template;
  options.parallel = artifacts.parallel();
  const TrainingResult result = train_preference_model(policy, data.records, data.examples, round_config.train, options);
  if (!result.finished) throw std::runtime_error("round " + std::to_string(round) + ": training stopped early");
}

EvalRecord run_eval_stage(LanguageModel& policy, const std::vector<EvalPrompt>& prompts,
                          const std::vector<GenerationRecord>& baseline, Judge& judge,
                          const EvaluationSettings& settings, const std::function<LanguageModel()>& load_reference,
                          const EvalProvenance& provenance, const RoundPaths& paths,
                          const SharedArtifacts& artifacts) {
  const EvalResult result = evaluate_policy(policy, prompts, baseline, judge, settings, paths.dir, load_reference);
  EvalRecord record;
  record.result = eval_result_to_json(result);
  record.round = provenance.round;
  record.model = provenance.model.string();
  record.reference = provenance.reference.string();
  record.judge_id = judge.id();
  record.judge_config_hash = judge.config_hash();
  write_eval_record(artifacts, paths.eval(), record);
  log::info(settings.label + ": " + describe_eval_result(result));
  return record;
}

}  // namespace selm
