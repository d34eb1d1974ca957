// Private to the command-line front end: one register_* function per subcommand file.
#pragma once

#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "selm/config/config.hpp"
#include "selm/parallel/parallel_context.hpp"

namespace selm::cli {

// This process's place in the job, read from its launcher's environment
// (parallel/launch_environment.hpp), with the log's rank tag set from it. With more than one
// process it joins the job's process group (gloo on CPU, nccl on CUDA, bounded by
// run.collective_timeout_seconds), and a CUDA device without an index becomes cuda:LOCAL_RANK.
ParallelContext process_parallel_context(Config& config);

// `-c FILE` (repeatable) and trailing `key.path=value` overrides, shared by every subcommand
// that reads a config.
struct ConfigArgs {
  std::vector<std::string> files;
  std::vector<std::string> overrides;
};
void add_config_args(CLI::App& command, ConfigArgs& args, bool config_required);
// load_config + applying run.threads and run.log_level to the process.
Config resolve_config(const ConfigArgs& args);

void register_config_command(CLI::App& app);     // cmd_config.cpp
void register_init_command(CLI::App& app);       // cmd_init.cpp
void register_tokenizer_command(CLI::App& app);  // cmd_tokenizer.cpp
void register_generate_command(CLI::App& app);   // cmd_generate.cpp
void register_bench_command(CLI::App& app);      // cmd_bench.cpp
void register_bench_tokenize_command(CLI::App& bench);  // cmd_bench_tokenize.cpp, under `bench`
void register_judge_command(CLI::App& app);      // cmd_judge.cpp
void register_dpo_command(CLI::App& app);        // cmd_dpo.cpp
void register_score_command(CLI::App& app);      // cmd_score.cpp
void register_sft_command(CLI::App& app);        // cmd_sft.cpp
void register_train_command(CLI::App& app);      // cmd_train.cpp
void register_eval_command(CLI::App& app);       // cmd_eval.cpp
void register_task_command(CLI::App& app);       // cmd_task.cpp
void register_sweep_command(CLI::App& app);      // cmd_sweep.cpp
void register_report_command(CLI::App& app);     // cmd_report.cpp
void register_compare_command(CLI::App& app);    // cmd_compare.cpp
void register_plan_command(CLI::App& app);       // cmd_plan.cpp
void register_launch_command(CLI::App& app);     // cmd_launch.cpp

}  // namespace selm::cli
