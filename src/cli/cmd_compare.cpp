// `selm compare RUN_DIR... [--out DIR] [--head-to-head] [-c JUDGE.yaml]`: runs grouped by
// config apart from seeds, per-round mean reward and win rate over seeds, optionally SELM vs
// iterative DPO judged head-to-head. Writes DIR/compare.md and DIR/compare.html.
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "commands.hpp"
#include "selm/eval/compare.hpp"
#include "selm/judge/judge_factory.hpp"
#include "selm/run/run_paths.hpp"
#include "selm/util/files.hpp"
#include "selm/util/log.hpp"

namespace selm::cli {
namespace {

struct CompareArgs {
  std::vector<std::string> run_dirs;
  std::string output_dir = "compare";
  bool head_to_head = false;
  std::vector<std::string> judge_configs;
};

void run_compare(const CompareArgs& args) {
  std::vector<RunSummary> runs;
  for (const std::string& dir : args.run_dirs) runs.push_back(load_run_summary(dir));
  const std::vector<RunGroup> groups = group_runs(runs);

  std::vector<HeadToHead> results;
  if (args.head_to_head) {
    // The judge of -c, else the one the first run was trained with.
    const std::vector<std::string> judge_files =
        args.judge_configs.empty() ? std::vector<std::string>{RunPaths{runs.front().dir}.config().string()}
                                   : args.judge_configs;
    const Config config = load_config(judge_files, {});
    std::unique_ptr<Judge> judge = make_judge(config.judge);
    log::info("head-to-head with judge " + judge->id() + " (config " + judge->config_hash() + ")");
    results = head_to_head(runs, groups, *judge, config.judge.batch_size);
    if (results.empty()) log::warn("head-to-head: no SELM run (alpha > 0) has an alpha = 0 run with the same seed");
  }

  const std::string markdown = render_compare_markdown(runs, groups, results);
  const fs::path output_dir = args.output_dir;
  fs::create_directories(output_dir);
  write_file_atomic(output_dir / "compare.md", markdown);
  write_file_atomic(output_dir / "compare.html", render_compare_html(runs, groups, results));
  std::cout << markdown << std::flush;
  log::info("wrote " + (output_dir / "compare.md").string() + " and " + (output_dir / "compare.html").string());
}

}  // namespace

void register_compare_command(CLI::App& app) {
  auto* command = app.add_subcommand("compare", "Compare runs across seeds and methods (tables and an HTML plot)");
  auto args = std::make_shared<CompareArgs>();
  command->add_option("run_dirs", args->run_dirs, "Run directories written by selm train")->required();
  command->add_option("--out", args->output_dir, "Folder for compare.md and compare.html")->capture_default_str();
  command->add_flag("--head-to-head", args->head_to_head,
                    "Judge each SELM run's final eval responses against the alpha = 0 run of the same seed");
  command->add_option("-c,--config", args->judge_configs,
                      "Config file(s) whose judge section judges the head-to-head (default: the first run's config.yaml)")
      ->allow_extra_args(false);
  command->callback([args] { run_compare(*args); });
}

}  // namespace selm::cli
