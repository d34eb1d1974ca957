// `selm train`: online SELM rounds over a run directory (README "Run directory").
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
#include <string>
#include <vector>

#include "selm/config/config.hpp"
#include "selm/online/run_state.hpp"

namespace selm {

namespace fs = std::filesystem;

struct OnlineTrainOptions {
  bool force = false;           // resume although result-deciding config keys changed
  bool use_judge_cache = true;  // false: ignore judge.cache_dir
  std::string stop_after_stage; // stop cleanly once this stage is complete ("" = run to the end)
  // Writes report.html and returns the summary table (the eval area's report); empty = skip.
  std::function<std::string(const fs::path& run_dir)> write_report;
};

struct OnlineTrainResult {
  fs::path run_dir;
  bool already_finished = false;  // nothing to do: the run had finished before
  bool stopped_early = false;     // stopped at stop_after_stage
  RunState state;
};

// Runs or resumes the run run.output_dir/run.name. Bad input (config, data files, a changed
// config without `force`) is an InputError thrown before the run directory is touched.
OnlineTrainResult run_online_training(const Config& config, const OnlineTrainOptions& options);

// Keys whose values differ between two configs, as "key: OLD -> NEW", ignoring keys that do
// not change results (threads, logging, judge timeouts and retries, cache folder, checkpoint
// cadence, batch sizes of generation and judging).
std::vector<std::string> result_deciding_differences(const Config& before, const Config& after);

// Hash of the result-deciding keys (state.json's config_fingerprint).
std::string config_fingerprint(const Config& config);

}  // namespace selm
