// `selm judge -c JUDGE.yaml --in CANDIDATES.jsonl --out JUDGMENTS.jsonl [--no-cache]`
#include <cstdio>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "selm/judge/judge_factory.hpp"
#include "selm/util/files.hpp"
#include "selm/util/log.hpp"
#include "selm/util/progress.hpp"

namespace selm::cli {
namespace {

struct JudgeArgs {
  ConfigArgs config;
  std::string input;
  std::string output;
  bool no_cache = false;
};

std::string status_text(const JudgeStats& stats) {
  return "ok " + std::to_string(stats.ok) + ", abstained " + std::to_string(stats.abstained) + ", failed " +
         std::to_string(stats.failed);
}

void run_judge(const JudgeArgs& args) {
  const Config config = resolve_config(args.config);
  const std::vector<JudgeRequest> requests = read_judge_requests(args.input);
  std::unique_ptr<Judge> judge = make_judge(config.judge, JudgeBuildOptions{!args.no_cache});
  log::info("judging " + std::to_string(requests.size()) + " prompts with " + judge->id() + " (config " +
            judge->config_hash() + ")");

  JsonlWriter writer(args.output, /*append=*/false);
  Progress progress("judge", static_cast<std::int64_t>(requests.size()), "prompts");
  const std::size_t batch_size = static_cast<std::size_t>(config.judge.batch_size);
  for (std::size_t begin = 0; begin < requests.size(); begin += batch_size) {
    const std::size_t end = std::min(requests.size(), begin + batch_size);
    const std::vector<JudgeRequest> batch(requests.begin() + static_cast<std::ptrdiff_t>(begin),
                                          requests.begin() + static_cast<std::ptrdiff_t>(end));
    for (const Judgment& judgment : judge->rank(batch)) writer.write(judgment_to_json(judgment));
    progress.advance(static_cast<std::int64_t>(batch.size()), status_text(judge->stats()));
  }
  const JudgeStats stats = judge->stats();
  progress.finish(status_text(stats));
  char latency[32];
  std::snprintf(latency, sizeof latency, "%.1f", stats.mean_latency_seconds() * 1000.0);
  log::info("judged " + std::to_string(stats.judgments) + " prompts: " + status_text(stats) + " (from cache " +
            std::to_string(stats.cache_hits) + "); requests " + std::to_string(stats.requests) + ", retries " +
            std::to_string(stats.retries) + (stats.restarts > 0 ? ", restarts " + std::to_string(stats.restarts) : "") +
            ", mean latency " + latency + " ms; wrote " + args.output);
}

}  // namespace

void register_judge_command(CLI::App& app) {
  auto* command = app.add_subcommand("judge", "Rank candidate responses with the configured judge");
  auto args = std::make_shared<JudgeArgs>();
  add_config_args(*command, args->config, /*config_required=*/false);
  command->add_option("--in", args->input, "Candidates JSONL: {\"id\"?, \"prompt\", \"candidates\": [...]} per line")
      ->required();
  command->add_option("--out", args->output, "Judgments JSONL to write (one per input line, same order)")->required();
  command->add_flag("--no-cache", args->no_cache, "Ignore judge.cache_dir: judge everything afresh and store nothing");
  command->callback([args] { run_judge(*args); });
}

}  // namespace selm::cli
