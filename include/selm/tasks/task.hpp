// Preparing a built-in task (task_config.hpp) and pointing a config at what it prepared.
//
// fortunes: everything goes into TASK.cache_dir/fortunes-<key>/, where <key> (16 hex digits)
// hashes every task setting except name and cache_dir, the names and bytes of the fortune files
// read, the lexicon judge's config hash (judge.lexicon) and a format version, so a change to any
// of them prepares a new entry and an unchanged config reuses the old one:
//
//   corpus_train.txt       training fortunes, one per line (tokenizer input)
//   sft_train.jsonl        {"text": fortune, "source": "FILE:N"} per training fortune
//   sft_eval.jsonl         the same for the held-out fortunes
//   train_prompts.jsonl    preference records (data/records.hpp) of the training fortunes:
//                          {"prompt": first prompt_words words, "chosen", "rejected" (continuations
//                          starting with a space, see fortunes.hpp), "chosen_score",
//                          "rejected_score" (lexicon scores), "source"}
//   eval_prompts.jsonl     {"prompt": first words of a held-out fortune, "source"}, at most
//                          eval_prompts records
//   tokenizer/             SentencePiece tokenizer trained on corpus_train.txt (plain template)
//   sft/                   train_metrics.jsonl of the SFT run
//   model/                 the SFT model: Hugging Face directory with the tokenizer files
//   sft_eval.json          {"perplexity", "initial_perplexity", "loss", "initial_loss",
//                          "loss_tokens", "examples", "steps", "seconds"} on sft_eval.jsonl
//   done.json              written last: the entry is complete (see prepare_task)
//
// Every file is replaced atomically. SFT uses the task's own settings (sft_*), not the train
// section, which belongs to the preference rounds that follow.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include "selm/config/config.hpp"

namespace selm {

namespace fs = std::filesystem;

inline constexpr const char* kTaskDoneFile = "done.json";

struct TaskAssets {
  std::string task;             // "fortunes"
  fs::path directory;           // the cache entry
  fs::path model_dir;           // SFT model (Hugging Face directory, tokenizer included)
  fs::path tokenizer_path;      // tokenizer.model of the task's tokenizer
  fs::path train_file;          // preference records of the training prompts
  fs::path eval_file;           // held-out prompts
  fs::path sft_train_file;      // {"text"} records the model was fine-tuned on
  fs::path sft_eval_file;       // held-out {"text"} records
  fs::path sft_eval_report;     // sft_eval.json
  double sft_perplexity = 0;          // held-out perplexity of the SFT model
  double initial_perplexity = 0;      // ... of the randomly initialised model
  std::int64_t train_prompts = 0;     // records in train_file
  std::int64_t eval_prompts = 0;      // records in eval_file
  double preparation_seconds = 0;     // time the preparation took (when it was done)
  bool prepared_now = false;          // false: reused from the cache
};

struct TaskPrepareOptions {
  bool show_progress = true;  // SFT progress line on stderr
};

// The cache entry's key for `config` (reads the fortune files to hash them). InputError when
// task.name is empty or the fortunes folder is missing.
std::string task_cache_key(const Config& config);

// Returns the task's cache entry, preparing it first unless a complete one exists (its
// done.json names the same key and every listed file exists). An entry without a valid
// done.json, e.g. left by a killed preparation, is deleted and prepared again from scratch.
// Progress goes to the log (and the SFT progress line). InputError for bad settings or a
// missing corpus; std::runtime_error for failures of the environment.
TaskAssets prepare_task(const Config& config, const TaskPrepareOptions& options = {});

// `config` with the task's assets filled into the keys it leaves empty: model.path,
// data.train_file, data.eval_file, sft.train_file, sft.eval_file; tokenizer.chat_template
// becomes plain when it is auto.
Config apply_task(Config config, const TaskAssets& assets);

}  // namespace selm
