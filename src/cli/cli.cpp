#include "selm/cli/cli.hpp"

#include <algorithm>
#include <iostream>
#include <optional>

#include "commands.hpp"
#include "selm/util/cpu_threads.hpp"
#include "selm/util/error.hpp"
#include "selm/util/log.hpp"
#include "selm/util/system.hpp"

namespace selm::cli {

namespace {

// The console level that -v or -q asked for: it beats run.log_level. Reset by every run().
std::optional<log::Level> command_line_log_level;

log::Level log_level_from_config(LogLevel level) {
  switch (level) {
    case LogLevel::debug: return log::Level::debug;
    case LogLevel::warn: return log::Level::warn;
    case LogLevel::error: return log::Level::error;
    case LogLevel::info: break;
  }
  return log::Level::info;
}

// -v and -q, accepted before or after the subcommand's name (`selm -v train`, `selm train -q`).
void add_log_level_flags(CLI::App& app) {
  const auto choose = [](log::Level level) {
    command_line_log_level = level;
    log::set_level(level);
  };
  auto* verbose = app.add_flag_callback("-v,--verbose", [choose] { choose(log::Level::debug); },
                                        "Log debug lines too (beats run.log_level)");
  auto* quiet = app.add_flag_callback("-q,--quiet", [choose] { choose(log::Level::warn); },
                                      "Log warnings and errors only (beats run.log_level)");
  verbose->excludes(quiet);
  app.fallthrough();  // inherited by the subcommands registered afterwards
}

}  // namespace

void add_config_args(CLI::App& command, ConfigArgs& args, bool config_required) {
  auto* option = command.add_option("-c,--config", args.files,
                                    "Config file(s), YAML or JSON; later files override earlier ones");
  option->allow_extra_args(false);  // `-c a.yaml key=value`: the override is not a second file
  if (config_required) option->required();
  command.add_option("overrides", args.overrides,
                     "Config overrides as key.path=value (beat the files), e.g. generate.top_p=0.9");
}

ParallelContext process_parallel_context() {
  const ParallelContext parallel;
  parallel.validate();
  log::set_rank(parallel.rank, parallel.world_size);
  return parallel;
}

Config resolve_config(const ConfigArgs& args) {
  Config config = load_config(args.files, args.overrides);
  log::set_level(command_line_log_level.value_or(log_level_from_config(config.run.log_level)));
  configure_cpu_threads(config.run.threads);
  return config;
}

int run(int argc, char** argv) {
  configure_process_allocator();
  CLI::App app{"selm: online preference alignment of language models (SELM, optimistic DPO)", "selm"};
  app.set_version_flag("--version", std::string("selm ") + SELM_VERSION);
  app.require_subcommand(1);
  // The process's one logger writes to stderr from the start; -v/-q or run.log_level set its
  // level, and an online run adds the run directory's log.txt.
  command_line_log_level.reset();
  add_log_level_flags(app);
  register_config_command(app);
  register_init_command(app);
  register_tokenizer_command(app);
  register_generate_command(app);
  register_bench_command(app);
  register_judge_command(app);
  register_dpo_command(app);
  register_score_command(app);
  register_sft_command(app);
  register_train_command(app);
  register_eval_command(app);
  register_task_command(app);
  register_sweep_command(app);
  register_report_command(app);
  register_compare_command(app);
  register_plan_command(app);
  try {
    app.parse(argc, argv);
    return 0;
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return 2;
  } catch (const std::invalid_argument& e) {  // InputError and other bad input
    std::cerr << "selm: error: " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "selm: failed: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace selm::cli
