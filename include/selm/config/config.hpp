// The resolved configuration of a selm command: one typed section per area.
//
// Layering (STYLE.md 5): defaults (member initialisers) < config files, in order <
// `key.path=value` overrides from the command line. One validator names the offending key.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "selm/config/enum_names.hpp"
#include "selm/config/field_checker.hpp"
#include "selm/config/fields.hpp"
#include "selm/config/key_override.hpp"
#include "selm/eval/eval_config.hpp"
#include "selm/generate/sampling_config.hpp"
#include "selm/judge/judge_config.hpp"
#include "selm/train/sft_config.hpp"
#include "selm/train/train_config.hpp"
#include "selm/model/llama_config.hpp"
#include "selm/model/model_settings.hpp"
#include "selm/online/online_config.hpp"
#include "selm/tasks/task_config.hpp"
#include "selm/text/tokenizer_settings.hpp"

namespace selm {

enum class LogLevel { debug, info, warn, error };

template <>
struct EnumNames<LogLevel> {
  static constexpr EnumName<LogLevel> entries[] = {
      {LogLevel::debug, "debug"}, {LogLevel::info, "info"}, {LogLevel::warn, "warn"}, {LogLevel::error, "error"}};
};

// Options of the process as a whole.
struct RunConfig {
  std::string name = "selm-run";        // run name: the run directory is output_dir/name
  std::string output_dir = "runs";      // parent folder of run directories
  std::int64_t seed = 42;               // global seed (initialisation, shuffling)
  std::int64_t threads = 0;             // CPU threads for LibTorch; 0 = all cores
  LogLevel log_level = LogLevel::info;  // logging threshold
  std::int64_t collective_timeout_seconds = 600;  // bound of every collective of a multi-process job

  template <class Visitor>
  void visit_fields(Visitor& v) {
    v.field("name", name, "Run name; the run directory is output_dir/name", field_role::run_identity);
    v.field("output_dir", output_dir, "Folder that holds run directories", field_role::run_identity);
    v.field("seed", seed, "Global seed for initialisation and shuffling", field_role::run_identity);
    v.field("threads", threads, "CPU threads used by LibTorch; 0 uses all cores", field_role::process);
    v.field("log_level", log_level, "Logging threshold: debug, info, warn or error", field_role::process);
    v.field("collective_timeout_seconds", collective_timeout_seconds,
            "Data-parallel jobs: the longest any collective (barrier, all-reduce) waits for the other ranks; a "
            "rank that died makes the others exit with an error within it",
            field_role::process);
  }
  void validate(const FieldChecker& check) const;
};

// Data of preference training: the pairs of selm dpo, the prompts (with the dataset's pairs) of
// online rounds and the held-out prompts of evaluation. selm sft reads the sft section.
struct DataConfig {
  std::string train_file;  // preferences JSONL (selm dpo, online rounds with pairing selm) or prompts JSONL
  std::string eval_file;   // held-out prompts JSONL of the per-round evaluation

  template <class Visitor>
  void visit_fields(Visitor& v) {
    v.field("train_file", train_file,
            "Preference pairs JSONL (selm dpo; selm train with online.pairing selm) or prompts JSONL (best_worst); "
            "selm sft reads sft.train_file");
    v.field("eval_file", eval_file, "Held-out prompts JSONL evaluated after every round of selm train");
  }
};

struct Config {
  RunConfig run;
  ModelSettings model;
  TokenizerSettings tokenizer;
  LlamaConfig architecture;  // used by `selm init` to create a model
  SamplingConfig generate;
  JudgeConfig judge;
  TrainConfig train;
  DataConfig data;
  SftConfig sft;
  OnlineConfig online;
  EvalConfig eval;
  TaskConfig task;

  template <class Visitor>
  void visit_fields(Visitor& v) {
    v.section("run", run, "Process-wide options");
    v.section("model", model, "Model to load and where to run it");
    v.section("tokenizer", tokenizer, "Tokenizer and chat template");
    v.section("architecture", architecture, "Hyper-parameters of a new model (selm init); names as in Hugging Face config.json");
    v.section("generate", generate, "Generation and sampling");
    v.section("judge", judge, "Judge that ranks candidate responses (selm judge, online rounds)");
    v.section("train", train, "Preference and SFT training: loss, optimiser, schedule, batching, checkpoints");
    v.section("data", data, "Preference data and prompts (selm dpo, selm train)");
    v.section("sft", sft, "Supervised fine-tuning data (selm sft)");
    v.section("online", online, "Online SELM rounds (selm train)");
    v.section("eval", eval, "Per-round evaluation on held-out prompts (selm train, selm eval)");
    v.section("task", task, "Built-in task that prepares data and the initial model (the quickstart)");
  }
  void validate(const FieldChecker& check) const;
};

// Loads `files` in order onto the defaults, then applies `overrides` ("a.b.c=value", the value
// parsed as YAML), then validates. Files may be YAML or JSON. Errors are InputErrors naming the
// key and FILE:LINE (or the override). `origins`, when given, receives where each key was set.
Config load_config(const std::vector<std::string>& files, const std::vector<std::string>& overrides,
                   KeyOrigins* origins = nullptr);

// The same with `later` applied after `overrides` (an online round's round_overrides); their
// errors name the key and the place each override was written.
Config load_config(const std::vector<std::string>& files, const std::vector<std::string>& overrides,
                   const OverrideList& later, KeyOrigins* origins = nullptr);

// The resolved config as YAML, each key commented with its documentation. Loading the dump
// gives back the same config.
std::string dump_config_yaml(Config config);

// Markdown reference of every key: name, type, default and meaning.
std::string config_reference_markdown();

// Every key whose field changes results (FieldRole::changes_results), flattened to
// "section.key" -> the value's YAML text in flow style: what a resumed run must keep. Round
// overrides appear in their "key=value key=value" text per round.
std::map<std::string, std::string> result_deciding_values(const Config& config);

// The keys that name, place or seed one run of an experiment, or set up its process
// (FieldRole::per_run): runs that differ only in them belong to one experiment.
const std::set<std::string>& per_run_keys();

// Every key of the config ("train.alpha"), from the field declarations themselves.
const std::set<std::string>& config_keys();

}  // namespace selm
