// What `selm report` reads from a run directory of `selm train` and how it shows it: a text
// summary table and a self-contained HTML page with inline SVG charts.
//
// Loading is tolerant of a run in progress (fewer rounds, a round without eval.json yet) but
// not of damaged files: a malformed file is an InputError naming FILE:LINE (or FILE and key).
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "selm/eval/statistics.hpp"
#include "selm/train/loss_type.hpp"

namespace selm {

// A value with its 95% interval, as stored in eval.json ("mean_score" + "mean_score_ci").
struct ValueWithInterval {
  double value = 0.0;
  Interval interval;
};

// One logged step of a round's training (train_metrics.jsonl).
struct TrainStepMetrics {
  std::int64_t step = 0;               // step within the round's training, from 1
  std::optional<double> loss;
  std::optional<double> accuracy;      // "rewards/accuracies"
  std::optional<double> margin;        // "rewards/margins"
};

struct SampleGeneration {
  std::string prompt;
  std::string response;                // the round's policy
  std::string baseline;                // the initial model
};

struct RoundSummary {
  std::int64_t round = 0;
  bool evaluated = false;              // eval.json (or its metrics.jsonl line) exists

  // Evaluation against the initial model on the held-out prompts.
  std::int64_t prompts = 0;
  std::int64_t abstained = 0;
  std::int64_t failed = 0;
  WinRate win_rate;                    // from wins / ties / losses, ties counted half
  std::optional<ValueWithInterval> mean_score;           // judge reward of the policy's responses
  std::optional<ValueWithInterval> baseline_mean_score;  // of the initial model's responses
  std::optional<ValueWithInterval> kl;                   // KL(pi_t || reference)
  std::optional<double> mean_length;                     // tokens of the policy's eval responses
  std::optional<double> baseline_mean_length;
  std::vector<double> scores;          // per eval prompt, unscored prompts left out
  std::vector<double> baseline_scores;
  std::vector<SampleGeneration> examples;

  // Training.
  std::optional<std::int64_t> pairs;   // preference pairs trained on
  std::vector<TrainStepMetrics> train_steps;
};

struct RunSummary {
  std::filesystem::path dir;
  std::string name;                    // run.name
  PreferenceLossType loss = PreferenceLossType::selm;  // train.loss
  double alpha = 0.0;                  // train.alpha
  double beta = 0.0;                   // train.beta
  std::int64_t seed = 0;               // run.seed
  // The resolved config flattened to "section.key" -> value text, for grouping runs.
  std::map<std::string, std::string> config_values;
  std::string judge_id;                // from the first eval.json that names it

  std::string initial_model_path;      // initial_model.json "path"
  std::optional<double> initial_perplexity;  // held-out perplexity of the initial model

  std::vector<std::string> completed_stages;  // state.json, in order
  bool finished = false;
  std::vector<std::pair<std::string, double>> stage_seconds;  // wall time per stage, state.json order

  std::vector<RoundSummary> rounds;    // ascending round number; only rounds with any artifact

  // The first evaluated round, or nullptr.
  const RoundSummary* first_evaluated() const;
};

// Reads RUN_DIR/config.yaml (required), state.json, initial_model.json, metrics.jsonl and every
// round-<t>/ (eval.json, train_metrics.jsonl or, while training, train/train_metrics.jsonl,
// pairing.json). Missing optional files are skipped; malformed ones throw InputError.
RunSummary load_run_summary(const std::filesystem::path& run_dir);

// Rows of the summary table: a header row, the initial model, then one row per round
// (round, win rate vs initial [95% CI], mean reward [95% CI], KL [95% CI], mean length, pairs).
// Missing values are "-".
std::vector<std::vector<std::string>> summary_table_rows(const RunSummary& run);

// summary_table_rows as aligned plain text (one line per row, columns separated by spaces).
std::string render_summary_table(const RunSummary& run);

// A self-contained HTML page (no scripts, no external resources): summary table, SVG charts
// of win rate, mean reward, training curves, reward distributions, length and KL; the initial
// model's perplexity, wall time per stage and a few sample generations per round.
std::string render_report_html(const RunSummary& run);

}  // namespace selm
