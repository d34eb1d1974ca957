// The run directory of `selm train` (README "Run directory"): the one place that names its
// files. Writers (online), readers (report, compare, eval) and tests all take names from here.
//
//   RUN/config.yaml, state.json, log.txt, metrics.jsonl, initial_model.json, report.html,
//       run.lock (held by the `selm train` working on the run)
//   RUN/baseline/eval_generations.jsonl
//   RUN/round-<t>/prompts.jsonl, generations.jsonl, judgments.jsonl, preferences.jsonl,
//                 pairing.json, preferences_with_reference.jsonl, train_metrics.jsonl,
//                 checkpoint/, adapter/ (with train.lora), model/, eval_generations.jsonl, eval_samples.jsonl,
//                 eval_judgments.jsonl, eval.json
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

namespace selm {

namespace fs = std::filesystem;

namespace run_files {
inline constexpr const char* kConfig = "config.yaml";
inline constexpr const char* kState = "state.json";
inline constexpr const char* kLog = "log.txt";
inline constexpr const char* kMetrics = "metrics.jsonl";
inline constexpr const char* kInitialModel = "initial_model.json";
inline constexpr const char* kReport = "report.html";
inline constexpr const char* kLock = "run.lock";
inline constexpr const char* kBaselineDir = "baseline";
// A round's files.
inline constexpr const char* kPrompts = "prompts.jsonl";
inline constexpr const char* kGenerations = "generations.jsonl";
inline constexpr const char* kJudgments = "judgments.jsonl";
inline constexpr const char* kPreferences = "preferences.jsonl";
inline constexpr const char* kPairing = "pairing.json";
inline constexpr const char* kReferenceScored = "preferences_with_reference.jsonl";
inline constexpr const char* kTrainMetrics = "train_metrics.jsonl";
inline constexpr const char* kTrainInProgressDir = "train";  // an older layout of a round in training
inline constexpr const char* kCheckpointDir = "checkpoint";
inline constexpr const char* kModelDir = "model";
// With train.lora: the round's adapter in PEFT's format, saved before it is merged into model/.
inline constexpr const char* kAdapterDir = "adapter";
inline constexpr const char* kAdapterConfig = "adapter_config.json";        // PEFT's file names
inline constexpr const char* kAdapterWeights = "adapter_model.safetensors";
// Evaluation files (a round of `selm train`, the baseline, or the output folder of `selm eval`).
inline constexpr const char* kEvalGenerations = "eval_generations.jsonl";
inline constexpr const char* kEvalSamples = "eval_samples.jsonl";
inline constexpr const char* kEvalJudgments = "eval_judgments.jsonl";
inline constexpr const char* kEval = "eval.json";
inline constexpr const char* kBaselineGenerations = "baseline_generations.jsonl";  // `selm eval` only
}  // namespace run_files

// "round-<t>", the name of round t's folder.
std::string round_dir_name(std::int64_t round);
// t of a folder named "round-<t>"; nullopt for any other name.
std::optional<std::int64_t> round_of_dir_name(const std::string& name);

// The files of one round folder.
struct RoundPaths {
  fs::path dir;

  fs::path prompts() const { return dir / run_files::kPrompts; }
  fs::path generations() const { return dir / run_files::kGenerations; }
  fs::path judgments() const { return dir / run_files::kJudgments; }
  fs::path preferences() const { return dir / run_files::kPreferences; }
  fs::path pairing() const { return dir / run_files::kPairing; }
  fs::path reference_scored() const { return dir / run_files::kReferenceScored; }
  fs::path train_metrics() const { return dir / run_files::kTrainMetrics; }
  // Where an older layout kept the metrics of a round still in training.
  fs::path train_metrics_in_progress() const {
    return dir / run_files::kTrainInProgressDir / run_files::kTrainMetrics;
  }
  fs::path checkpoint() const { return dir / run_files::kCheckpointDir; }
  fs::path model() const { return dir / run_files::kModelDir; }
  fs::path adapter() const { return dir / run_files::kAdapterDir; }
  fs::path eval_generations() const { return dir / run_files::kEvalGenerations; }
  fs::path eval() const { return dir / run_files::kEval; }
};

// The files of a run directory.
struct RunPaths {
  fs::path dir;

  fs::path config() const { return dir / run_files::kConfig; }
  fs::path state() const { return dir / run_files::kState; }
  fs::path log() const { return dir / run_files::kLog; }
  fs::path metrics() const { return dir / run_files::kMetrics; }
  fs::path initial_model() const { return dir / run_files::kInitialModel; }
  fs::path report() const { return dir / run_files::kReport; }
  fs::path lock() const { return dir / run_files::kLock; }
  fs::path baseline_dir() const { return dir / run_files::kBaselineDir; }
  fs::path baseline_generations() const { return baseline_dir() / run_files::kEvalGenerations; }

  fs::path round_dir(std::int64_t t) const { return dir / round_dir_name(t); }
  RoundPaths round(std::int64_t t) const { return RoundPaths{round_dir(t)}; }
  fs::path eval_file(std::int64_t t) const { return round(t).eval(); }
};

}  // namespace selm
