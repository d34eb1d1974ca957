// `selm compare`: runs of the same experiment that differ only in their seed are grouped, and
// each group's per-round judged reward and win rate are summarised over seeds (mean with a
// Student-t 95% interval). Optionally, every SELM run (alpha > 0) is judged head-to-head
// against the iterative-DPO run (alpha = 0) of the same seed on the final round's held-out
// responses.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "selm/eval/report.hpp"
#include "selm/eval/statistics.hpp"

namespace selm {

class Judge;

// Keys that do not make two runs different experiments: the run's name and output folder,
// process settings, and every seed (the fields the config declares per run: per_run_keys).
bool is_seed_or_naming_key(const std::string& key);

// "selm alpha=0.001", "selm alpha=0 (iterative DPO)", "dpo", "ipo", "hinge".
std::string method_label(PreferenceLossType loss, double alpha);

// True for runs that are iterative DPO: loss dpo, or loss selm with alpha = 0.
bool is_dpo_baseline(const RunSummary& run);

struct GroupRound {
  std::int64_t round = 0;
  std::int64_t seeds = 0;           // runs of the group that evaluated this round
  MeanEstimate mean_score;          // over seeds of each run's judged mean reward (count = runs with scores)
  MeanEstimate win_rate;            // over seeds of each run's win rate vs its initial model
};

struct RunGroup {
  std::string label;                // method_label, plus the differing keys when two groups share it
  PreferenceLossType loss = PreferenceLossType::selm;
  double alpha = 0.0;
  std::vector<std::size_t> runs;    // indices into the runs passed to group_runs, in input order
  std::vector<std::int64_t> seeds;  // run.seed of those runs
  std::vector<GroupRound> rounds;   // ascending
  std::optional<ValueWithInterval> initial_mean_score;  // initial model's reward, averaged over seeds
};

// Groups runs whose configs agree on every key but is_seed_or_naming_key ones, in order of first
// appearance, and summarises each round over the group's runs.
std::vector<RunGroup> group_runs(const std::vector<RunSummary>& runs);

struct HeadToHeadSeed {
  std::int64_t seed = 0;
  std::string selm_run;             // run directories
  std::string dpo_run;
  std::int64_t round = 0;           // round compared: the last one with eval_generations.jsonl in both
  WinRate selm_win_rate;            // SELM response vs DPO response, ties half
  std::int64_t abstained = 0;
  std::int64_t failed = 0;
};

struct HeadToHead {
  std::string label;                // the SELM group's label
  std::vector<HeadToHeadSeed> seeds;
  WinRate pooled;                   // over every seed's prompts together
  std::int64_t abstained = 0;
  std::int64_t failed = 0;
};

// For every group with alpha > 0 (loss selm) and every seed it shares with an iterative-DPO run
// of the same experiment (same config apart from seeds, names, train.loss and train.alpha),
// judges candidates [selm response, dpo response] per eval prompt. Prompts are matched by
// "prompt_index"; different prompt texts are an InputError naming both files.
std::vector<HeadToHead> head_to_head(const std::vector<RunSummary>& runs, const std::vector<RunGroup>& groups,
                                     Judge& judge, std::int64_t batch_size);

// Tables: per group and round, seeds, mean reward [95% CI] and win rate [95% CI]; then the
// head-to-head results when any.
std::string render_compare_markdown(const std::vector<RunSummary>& runs, const std::vector<RunGroup>& groups,
                                    const std::vector<HeadToHead>& head_to_head);
// The same tables plus an SVG chart of mean reward per round per group, as a self-contained page.
std::string render_compare_html(const std::vector<RunSummary>& runs, const std::vector<RunGroup>& groups,
                                const std::vector<HeadToHead>& head_to_head);

}  // namespace selm
