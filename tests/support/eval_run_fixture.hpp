// Run directories of `selm train` written by hand (the format of docs: run directory spec), for
// the report and compare tests: known numbers in, known table values out.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "selm/run/run_paths.hpp"
#include "support/test_support.hpp"

namespace selm::test {

inline void write_json(const fs::path& path, const nlohmann::json& value) { write_text(path, value.dump(2) + "\n"); }

inline void write_jsonl(const fs::path& path, const std::vector<nlohmann::json>& records) {
  std::string text;
  for (const auto& record : records) text += record.dump() + "\n";
  write_text(path, text);
}

// config.yaml of a run; `extra` is appended as more YAML (e.g. "  beta: 0.1\n" under train).
inline void write_run_config(const fs::path& run_dir, const std::string& name, const std::string& loss, double alpha,
                             int seed, const std::string& extra_train_yaml = "") {
  write_text(RunPaths{run_dir}.config(), "run:\n  name: " + name + "\n  seed: " + std::to_string(seed) +
                                          "\ntrain:\n  loss: " + loss + "\n  alpha: " + nlohmann::json(alpha).dump() +
                                          "\n  seed: " + std::to_string(seed + 100) + "\n" + extra_train_yaml);
}

// Three rounds: 1 and 2 evaluated and trained, 3 still training (partial metrics line).
//   round 1: 8 wins, 0 ties, 2 losses; mean_score 0.35 [0.25, 0.45] stored; baseline 0.1 [0, 0.2];
//            kl 0.5 [0.4, 0.6]; mean_length 23.5; pairs 12; an example with HTML in it.
//   round 2: 6 wins, 2 ties, 2 losses; no mean_score key: scores 0.1, null, 0.3, 0.5, 0.7;
//            kl 0.9 [0.7, 1.1]; mean_length 25; pairs 9.
//   round 3: train/train_metrics.jsonl with 2 steps and a cut-off line; pairing.json pairs 7.
inline void write_sample_run(const fs::path& dir) {
  using nlohmann::json;
  const RunPaths run{dir};
  write_run_config(dir, "sample-run", "selm", 0.001, 7);
  write_text(run.state(),
             "{\"version\": 1, \"config_fingerprint\": \"abc\", \"completed\": [\"baseline\", \"round-1/generate\", "
             "\"round-1/train\", \"round-1/eval\", \"round-2/generate\"],\n \"stage_seconds\": {\"baseline\": 3.5, "
             "\"round-1/generate\": 12.0, \"round-1/train\": 30.0, \"round-1/eval\": 5.0, \"round-2/generate\": 11.0},"
             " \"finished\": false}\n");
  write_json(run.initial_model(),
             {{"path", "models/init"}, {"perplexity", 12.345}, {"perplexity_file", "eval.jsonl"}, {"source", "config"}});

  const json round1 = {{"round", 1},
                       {"judge", {{"id", "lexicon"}, {"config_hash", "0123456789abcdef"}}},
                       {"prompts", 10},
                       {"wins", 8},
                       {"ties", 0},
                       {"losses", 2},
                       {"abstained", 0},
                       {"failed", 0},
                       {"win_rate", 0.8},
                       {"win_rate_ci", {0.49, 0.943}},
                       {"mean_score", 0.35},
                       {"mean_score_ci", {0.25, 0.45}},
                       {"baseline_mean_score", 0.1},
                       {"baseline_mean_score_ci", {0.0, 0.2}},
                       {"scores", {0.2, 0.3, 0.4, 0.5, 0.6, 0.1, 0.35, 0.45, 0.25, 0.35}},
                       {"baseline_scores", {0.0, 0.1, 0.2, 0.1, 0.0, 0.2, 0.1, 0.15, 0.05, 0.1}},
                       {"mean_length", 23.5},
                       {"baseline_mean_length", 20.1},
                       {"kl", 0.5},
                       {"kl_ci", {0.4, 0.6}},
                       {"kl_samples", 10},
                       {"examples",
                        {{{"prompt", "Tell me <b>news</b>"},
                          {"response", "<script>alert(\"x\")</script> & more"},
                          {"baseline", "plain answer"}}}}};
  json round2 = {{"round", 2},
                 {"prompts", 10},
                 {"wins", 6},
                 {"ties", 2},
                 {"losses", 2},
                 {"abstained", 0},
                 {"failed", 0},
                 {"scores", {0.1, nullptr, 0.3, 0.5, 0.7}},
                 {"baseline_scores", {0.0, 0.1}},
                 {"mean_length", 25.0},
                 {"baseline_mean_length", 20.1},
                 {"kl", 0.9},
                 {"kl_ci", {0.7, 1.1}},
                 {"examples", {{{"prompt", "p2"}, {"response", "round two answer"}, {"baseline", "b2"}}}}};
  write_json(run.eval_file(1), round1);
  write_json(run.eval_file(2), round2);

  json metrics1 = round1;
  metrics1.erase("scores");
  metrics1.erase("baseline_scores");
  metrics1.erase("examples");
  metrics1["pairs"] = 12;
  metrics1["loss"] = "selm";
  json metrics2 = round2;
  metrics2.erase("scores");
  metrics2.erase("baseline_scores");
  metrics2.erase("examples");
  metrics2["pairs"] = 9;
  write_jsonl(run.metrics(), {metrics1, metrics2});

  for (int round = 1; round <= 2; ++round) {
    std::vector<json> steps;
    for (int step = 1; step <= 4; ++step) {
      steps.push_back({{"step", step},
                       {"epoch", step / 4.0},
                       {"learning_rate", 1e-6},
                       {"loss", 0.7 - 0.05 * step - 0.1 * round},
                       {"rewards/accuracies", 0.4 + 0.1 * step},
                       {"rewards/margins", 0.02 * step * round}});
    }
    write_jsonl(run.round(round).train_metrics(), steps);
  }
  write_text(run.round(3).train_metrics_in_progress(),
             "{\"step\": 1, \"loss\": 0.45, \"rewards/accuracies\": 0.6, \"rewards/margins\": 0.1}\n"
             "{\"step\": 2, \"loss\": 0.4, \"rewards/accuracies\": 0.7, \"rewards/margins\": 0.12}\n"
             "{\"step\": 3, \"lo");
  write_json(run.round(3).pairing(),
             {{"prompts", 8}, {"pairs", 7}, {"dropped_ties", 1}, {"dropped_abstained", 0}, {"dropped_failed", 0}});
}

}  // namespace selm::test
