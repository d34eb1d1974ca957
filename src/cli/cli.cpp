#include "selm/cli/cli.hpp"

#include <algorithm>
#include <chrono>
#include <iostream>
#include <optional>

#include "commands.hpp"
#include "selm/parallel/launch_environment.hpp"
#include "selm/util/cpu_threads.hpp"
#include "selm/util/error.hpp"
#include "selm/util/log.hpp"
#include "selm/util/stop_request.hpp"
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

ParallelContext process_parallel_context(Config& config) {
  const LaunchEnvironment environment = read_launch_environment();
  log::set_rank(environment.rank, environment.world_size);
  ParallelContext parallel;
  if (environment.world_size > 1) {
    DeviceSpec& device = config.model.device;
    // One process per device: a rank whose config says only "cuda" takes GPU LOCAL_RANK.
    if (device.kind == DeviceKind::cuda && !device.index) device.index = environment.local_rank;
    const std::string backend = device.kind == DeviceKind::cuda ? "nccl" : "gloo";
    log::info("joining a " + std::to_string(environment.world_size) + "-process " + backend + " group at " +
              environment.master_addr + ":" + std::to_string(environment.master_port) + " (" + environment.source +
              ")");
    parallel = parallel_context_of(
        connect_process_group(environment, backend, std::chrono::seconds(config.run.collective_timeout_seconds)),
        environment.local_rank, environment.local_world_size);
  }
  parallel.validate();
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
  register_launch_command(app);
  try {
    app.parse(argc, argv);
    return 0;
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::RuntimeError& e) {  // a command that ran and ends with this exit code (launch)
    return e.get_exit_code();
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return 2;
  } catch (const StopRequested& e) {  // SIGTERM, SIGUSR1 or SIGINT: stopped cleanly, resumable
    std::cerr << "selm: " << e.what() << "\n";
    return kExitStopped;
  } catch (const std::invalid_argument& e) {  // InputError and other bad input
    std::cerr << "selm: error: " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "selm: failed: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace selm::cli
