// Preference training of a loaded model on a file of pairs, as `selm dpo` and every online round
// run it: reference log-probs computed once (and cached in the output directory), then the
// training loop with checkpoints, then the final model directory.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "selm/data/records.hpp"
#include "selm/model/language_model.hpp"
#include "selm/parallel/parallel_context.hpp"
#include "selm/train/sequence_logps.hpp"
#include "selm/train/train_config.hpp"
#include "selm/train/training_loop.hpp"

namespace selm {

namespace fs = std::filesystem;

// Records with reference log-probs, in the output directory: a resumed run reads them instead
// of scoring the pairs with the reference again.
inline constexpr const char* kReferenceCacheFile = run_files::kReferenceScored;
inline constexpr const char* kFinalModelDir = run_files::kModelDir;

// The records of `path`, validated as a whole (InputError naming FILE:LINE), tokenised for
// `lm`. With `needs_reference_response`, a record without y_ref is an InputError.
struct PreferenceData {
  PreferenceFile file;
  std::vector<TokenizedPreference> examples;
};
PreferenceData load_preference_data(const fs::path& path, const LanguageModel& lm, const TrainConfig& train,
                                    bool needs_reference_response);

struct ReferenceScoringOptions {
  bool with_reference_response = false;  // also score y_ref (the SELM loss with alpha != 0)
  fs::path cache_file;                   // where the scored records are stored
  ParallelContext parallel;              // the rank that writes shared artifacts writes cache_file
};

// The records with reference log-probs under `reference` (the model as loaded, before any
// training; with LoRA adapters, its base weights: the adapters are off while it scores), read from options.cache_file when it holds them all, else computed and written
// there atomically. Both paths return the values as stored, so that straight and resumed runs
// train on identical numbers.
std::vector<PreferenceRecord> reference_scored_records(LlamaForCausalLM& reference, PreferenceData& data,
                                                       const TrainConfig& train, std::int64_t pad_id,
                                                       const ReferenceScoringOptions& options);

struct PreferenceTrainingOptions {
  fs::path output_dir;                          // train_metrics.jsonl, checkpoint/, model/
  std::string config_yaml;                      // stored with checkpoints
  std::string chat_template = "auto";           // written into the model's tokenizer files
  std::int64_t stop_after_step = 0;             // see TrainingLoopOptions
  bool show_progress = true;
  LlamaForCausalLM* reference_model = nullptr;  // score every batch with it instead of cached log-probs
  ParallelContext parallel;                     // the writing rank saves checkpoints, metrics and model/
};

// Trains lm.model in place (resuming output_dir's checkpoint) on `records`/`examples` with the
// train config's loss. When training finishes, writes output_dir/model and, with LoRA,
// output_dir/adapter first (write_trained_model); the model in memory keeps its adapters unmerged.
TrainingResult train_preference_model(LanguageModel& lm, const std::vector<PreferenceRecord>& records,
                                      const std::vector<TokenizedPreference>& examples, const TrainConfig& train,
                                      const PreferenceTrainingOptions& options);

}  // namespace selm
