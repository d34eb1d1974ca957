// `selm report RUN_DIR [--out FILE]`: the run's summary table on stdout and a self-contained
// HTML report (RUN_DIR/report.html by default).
#include <iostream>
#include <memory>
#include <string>

#include "commands.hpp"
#include "selm/eval/report.hpp"
#include "selm/run/run_paths.hpp"
#include "selm/util/files.hpp"
#include "selm/util/log.hpp"

namespace selm::cli {
namespace {

struct ReportArgs {
  std::string run_dir;
  std::string output;
};

void run_report(const ReportArgs& args) {
  const RunSummary run = load_run_summary(args.run_dir);
  const fs::path output = args.output.empty() ? RunPaths{args.run_dir}.report() : fs::path(args.output);
  write_file_atomic(output, render_report_html(run));
  std::cout << "run " << run.name << " (" << enum_name(run.loss) << ", alpha " << run.alpha << ", seed " << run.seed
            << ")\n"
            << render_summary_table(run) << std::flush;
  log::info("wrote " + output.string());
}

}  // namespace

void register_report_command(CLI::App& app) {
  auto* command = app.add_subcommand("report", "Summary table and HTML report (inline SVG charts) of a selm train run");
  auto args = std::make_shared<ReportArgs>();
  command->add_option("run_dir", args->run_dir, "Run directory written by selm train")->required();
  command->add_option("--out", args->output, "HTML file to write (default RUN_DIR/report.html)");
  command->callback([args] { run_report(*args); });
}

}  // namespace selm::cli
