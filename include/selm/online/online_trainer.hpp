// `selm train`: online SELM rounds over a run directory (README "Run directory"; the files are
// named in run/run_paths.hpp, the stages are online/round_stages.hpp).
//
// Stages, each recorded in state.json once its files are complete:
//   baseline            the initial model's responses to the eval prompts (once)
//   round-t/select      the round's prompts (prompts.jsonl)
//   round-t/generate    one response per prompt (selm pairing) or generate.num_samples
//                       (best_worst) from the round's starting model (appendable)
//   round-t/judge       judgments of the candidates (appendable)
//   round-t/pair        preferences.jsonl and pairing.json (ties and abstentions dropped)
//   round-t/reference   reference log-probs of chosen, rejected and y_ref under the round's
//                       starting model (preferences_with_reference.jsonl)
//   round-t/train       one round of preference training (resumes from its checkpoint) -> model/
//   round-t/eval        greedy responses on the eval prompts judged against the baseline,
//                       KL(policy || reference) from samples -> eval.json, metrics.jsonl
//   report              report.html
// Round t starts from, and uses as its frozen reference, round t-1's model (the configured model
// for the first round). With online.offline_round0, round 0 trains on the dataset's own pairs
// of its slice (train.loss dpo unless round 0's overrides say otherwise).
#pragma once

#include <filesystem>
#include <functional>
#include <optional>
#include <string>

#include "selm/config/config.hpp"
#include "selm/online/config_fingerprint.hpp"
#include "selm/parallel/parallel_context.hpp"
#include "selm/run/run_state.hpp"

namespace selm {

namespace fs = std::filesystem;

// Where the initial model came from when the command layer prepared it (a built-in task's SFT
// model): recorded in initial_model.json.
struct InitialModelOrigin {
  std::string source;              // e.g. "task:fortunes"
  double perplexity = 0;           // held-out perplexity of the prepared model
  double initial_perplexity = 0;   // ... of the model it was prepared from
  fs::path perplexity_file;        // the report both come from
};

struct OnlineTrainOptions {
  bool force = false;           // resume although result-deciding config keys changed
  bool use_judge_cache = true;  // false: ignore judge.cache_dir
  std::string stop_after_stage; // stop cleanly once this stage is complete ("" = run to the end)
  // Writes report.html and returns the summary table (the eval area's report); empty = skip.
  std::function<std::string(const fs::path& run_dir)> write_report;
  // Unset: the initial model is the config's model.path as it is.
  std::optional<InitialModelOrigin> initial_model;
  // This process's place in the job; its SharedArtifacts decide who writes the run directory.
  ParallelContext parallel;
};

struct OnlineTrainResult {
  fs::path run_dir;
  bool already_finished = false;  // nothing to do: the run had finished before
  bool stopped_early = false;     // stopped at stop_after_stage
  RunState state;
};

// Runs or resumes the run run.output_dir/run.name of `config` (complete: a built-in task is
// prepared by the caller). Bad input (config, data files, a changed config without `force`) is
// an InputError thrown before the run directory is touched.
OnlineTrainResult run_online_training(const Config& config, const OnlineTrainOptions& options);

}  // namespace selm
