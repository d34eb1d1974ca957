// `selm judge -c JUDGE.yaml --in CANDIDATES.jsonl --out JUDGMENTS.jsonl [--resume] [--no-cache]`
//
// Launched as several ranks, each judges its share of the batches (batch k to rank k mod N) and
// rank 0 merges their shards into --out in input order: the file one process writes.
#include <cstdio>
#include <memory>
#include <string>

#include "commands.hpp"
#include "selm/judge/judge_factory.hpp"
#include "selm/judge/judge_file.hpp"
#include "selm/parallel/sharded_jsonl.hpp"
#include "selm/util/log.hpp"
#include "selm/util/stop_request.hpp"

namespace selm::cli {
namespace {

struct JudgeArgs {
  ConfigArgs config;
  std::string input;
  std::string output;
  bool resume = false;
  bool no_cache = false;
};

// The judge's counters summed over the job's ranks (each judged its own batches).
JudgeStats job_stats(const JudgeStats& mine, const ParallelContext& parallel) {
  const std::vector<double> summed =
      parallel.sum({static_cast<double>(mine.judgments), static_cast<double>(mine.ok),
                    static_cast<double>(mine.abstained), static_cast<double>(mine.failed),
                    static_cast<double>(mine.cache_hits), static_cast<double>(mine.requests),
                    static_cast<double>(mine.retries), static_cast<double>(mine.answered),
                    static_cast<double>(mine.restarts), mine.total_latency_seconds},
                   "judge: counters");
  const auto count = [&summed](std::size_t i) { return static_cast<std::int64_t>(summed[i]); };
  JudgeStats stats;
  stats.judgments = count(0);
  stats.ok = count(1);
  stats.abstained = count(2);
  stats.failed = count(3);
  stats.cache_hits = count(4);
  stats.requests = count(5);
  stats.retries = count(6);
  stats.answered = count(7);
  stats.restarts = count(8);
  stats.total_latency_seconds = summed[9];
  return stats;
}

void run_judge(const JudgeArgs& args) {
  install_stop_signal_handlers();
  Config config = resolve_config(args.config);
  const std::vector<JudgeRequest> requests = read_judge_requests(args.input);
  std::unique_ptr<Judge> judge = make_judge(config.judge, JudgeBuildOptions{!args.no_cache});
  const ParallelContext parallel = process_parallel_context(config);
  log::info("judging " + std::to_string(requests.size()) + " prompts with " + judge->id() + " (config " +
            judge->config_hash() + ")");

  if (!args.resume) remove_with_shards(args.output, parallel, "judge: starting " + args.output + " afresh");
  (void)judge_to_file(*judge, requests, args.output, JudgeFileOptions{config.judge.batch_size, "judge", parallel});
  const JudgeStats stats = job_stats(judge->stats(), parallel);
  if (!parallel.writes_shared_artifacts()) return;
  char latency[32];
  std::snprintf(latency, sizeof latency, "%.1f", stats.mean_latency_seconds() * 1000.0);
  log::info("judged " + std::to_string(stats.judgments) + " prompts: " + judge_status_text(stats) + " (from cache " +
            std::to_string(stats.cache_hits) + "); requests " + std::to_string(stats.requests) + ", retries " +
            std::to_string(stats.retries) + (stats.restarts > 0 ? ", restarts " + std::to_string(stats.restarts) : "") +
            ", mean latency " + latency + " ms; wrote " + args.output);
}

}  // namespace

void register_judge_command(CLI::App& app) {
  auto* command = app.add_subcommand("judge", "Rank candidate responses with the configured judge");
  auto args = std::make_shared<JudgeArgs>();
  add_config_args(*command, args->config, /*config_required=*/false);
  command->add_option("--in", args->input,
                      "Candidates JSONL: {\"id\"?, \"prompt\", \"candidates\": [...]} per line (ids unique; "
                      "the line's position when absent)")
      ->required()
      ->check(CLI::ExistingFile);
  command->add_option("--out", args->output, "Judgments JSONL to write (one per input line, same order)")->required();
  command->add_flag("--resume", args->resume,
                    "Keep the judgments already in --out (by request id) and judge only the rest, e.g. after "
                    "a stop or a crash; without it --out is written afresh");
  command->add_flag("--no-cache", args->no_cache, "Ignore judge.cache_dir: judge everything afresh and store nothing");
  command->footer("Under `selm launch`, srun or torchrun, the ranks share the batches of judge.batch_size requests\n"
                  "out; the merged --out is byte-identical to one process's.");
  command->callback([args] { run_judge(*args); });
}

}  // namespace selm::cli
