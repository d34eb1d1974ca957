// The stages of an online round of `selm train` (and the run's baseline), each a function from
// what it needs to what it made. Each writes its files in the round folder (RoundPaths); the
// caller (OnlineRun) orders them, records them in state.json and times them, and passes one
// stage's output to the next. Only after a resume are inputs read back from a stage's files.
// Every file a stage writes goes through `artifacts` (parallel/shared_artifacts.hpp): the rank
// that writes shared artifacts writes it.
//
//   baseline   initial model, eval prompts          -> baseline/eval_generations.jsonl
//   select     dataset prompts, slice               -> prompts.jsonl
//   generate   starting model, prompts              -> generations.jsonl (appendable)
//   judge      judge, prompts, generations          -> judgments.jsonl (appendable)
//   pair       prompts, generations, judgments      -> preferences.jsonl, pairing.json
//   reference  starting model, preferences.jsonl    -> preferences_with_reference.jsonl
//   train      starting model, scored preferences   -> model/ (checkpoint/ while it runs; with
//                                                      LoRA adapter/ first, then model/ merged)
//   eval       round's model, baseline, judge       -> eval_*.jsonl, eval.json
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "selm/config/config.hpp"
#include "selm/eval/evaluation.hpp"
#include "selm/generate/generation_file.hpp"
#include "selm/judge/judge.hpp"
#include "selm/model/language_model.hpp"
#include "selm/online/pairing.hpp"
#include "selm/online/train_prompts.hpp"
#include "selm/parallel/shared_artifacts.hpp"
#include "selm/run/eval_record.hpp"
#include "selm/run/run_paths.hpp"
#include "selm/train/sequence_logps.hpp"

namespace selm {

// The initial model's responses to the eval prompts (the baseline every round is judged against).
std::vector<GenerationRecord> run_baseline_stage(LanguageModel& initial_model, const std::vector<EvalPrompt>& prompts,
                                                 const SamplingConfig& sampling, const RunPaths& paths,
                                                 const SharedArtifacts& artifacts);

// The round's prompts: slice `slice` of `dataset` (select_prompt_indices), written to prompts.jsonl.
std::vector<TrainPrompt> run_select_stage(const std::vector<TrainPrompt>& dataset, const PromptSliceSpec& spec,
                                          std::int64_t slice, const RoundPaths& paths,
                                          const SharedArtifacts& artifacts);

// `samples` responses per prompt from the round's starting model (generations.jsonl, resumed
// when present), in (prompt, sample) order.
std::vector<GenerationRecord> run_generate_stage(LanguageModel& start_model, const std::vector<TrainPrompt>& prompts,
                                                 SamplingConfig sampling, std::int64_t samples,
                                                 const RoundPaths& paths, const std::string& label,
                                                 const SharedArtifacts& artifacts);

// The judge's requests (candidate_requests) and its judgments, in request order.
struct JudgedCandidates {
  std::vector<JudgeRequest> requests;
  std::vector<Judgment> judgments;
};

// Judges the candidates into judgments.jsonl (resumed when present).
JudgedCandidates run_judge_stage(Judge& judge, std::vector<JudgeRequest> requests, std::int64_t batch_size,
                                 const RoundPaths& paths, const std::string& label, const SharedArtifacts& artifacts);

// The round's pairs (pair_judged_candidates, or the dataset's own pairs offline) written to
// preferences.jsonl and pairing.json.
void write_pairing_stage(const PairedRound& paired, const RoundPaths& paths, const SharedArtifacts& artifacts);

// The preference records with the reference model's log-probs (as stored in the cache file),
// and the same records tokenised for training.
struct ScoredPreferences {
  std::vector<PreferenceRecord> records;
  std::vector<TokenizedPreference> examples;
};

// Scores preferences.jsonl under the round's reference (its starting model), or reads the
// scores from preferences_with_reference.jsonl when a finished earlier call stored them.
// `reference` is called only when there is a pair to score.
ScoredPreferences run_reference_stage(const std::function<LanguageModel&()>& reference, const TrainConfig& train,
                                      const RoundPaths& paths, const SharedArtifacts& artifacts);

// One round of preference training of `policy` (the starting model, trained in place; resumes
// from checkpoint/) into model/ (and adapter/ with LoRA). Without pairs the round's model is
// its starting model (and its adapter the initial one).
void run_train_stage(LanguageModel& policy, const ScoredPreferences& data, const Config& round_config,
                     const std::string& chat_template, const RoundPaths& paths, std::int64_t round,
                     const SharedArtifacts& artifacts);

// What eval.json records beside the evaluation: the round, the models and the judge.
struct EvalProvenance {
  std::int64_t round = 0;
  fs::path model;
  fs::path reference;
};

// The round's model judged against the baseline's responses on the eval prompts, KL to the
// reference from samples; writes eval.json and returns its record.
EvalRecord run_eval_stage(LanguageModel& policy, const std::vector<EvalPrompt>& prompts,
                          const std::vector<GenerationRecord>& baseline, Judge& judge,
                          const EvaluationSettings& settings, const std::function<LanguageModel()>& load_reference,
                          const EvalProvenance& provenance, const RoundPaths& paths,
                          const SharedArtifacts& artifacts);

}  // namespace selm
