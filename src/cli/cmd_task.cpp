// `selm task prepare`: prepares (or finds in the cache) a built-in task's data, tokenizer and
// SFT model, the same way `selm train` does before its first round.
#include <iomanip>
#include <iostream>
#include <memory>
#include <sstream>

#include "commands.hpp"
#include "selm/tasks/task.hpp"

namespace selm::cli {

namespace {

void run_prepare(const ConfigArgs& args, const std::string& name) {
  Config config = resolve_config(args);
  if (!name.empty()) config.task.name = name;
  config.task.validate(FieldChecker("task.", nullptr));
  const TaskAssets assets = prepare_task(config);
  std::ostringstream out;
  out << std::fixed << std::setprecision(2);
  out << "task " << assets.task << ": " << (assets.prepared_now ? "prepared " : "reused ") << assets.directory.string()
      << " (" << assets.preparation_seconds << " s to prepare)\n"
      << "  model:        " << assets.model_dir.string() << "\n"
      << "  tokenizer:    " << assets.tokenizer_path.string() << "\n"
      << "  train prompts " << assets.train_file.string() << " (" << assets.train_prompts << " preference records)\n"
      << "  eval prompts  " << assets.eval_file.string() << " (" << assets.eval_prompts << " prompts)\n"
      << "  sft data:     " << assets.sft_train_file.string() << ", " << assets.sft_eval_file.string() << "\n"
      << "  SFT held-out perplexity: " << assets.sft_perplexity << " (initial " << assets.initial_perplexity << ")\n";
  std::cout << out.str();
}

}  // namespace

void register_task_command(CLI::App& app) {
  auto* task = app.add_subcommand("task", "Built-in tasks (the quickstart's data and initial model)");
  task->require_subcommand(1);
  auto* prepare = task->add_subcommand(
      "prepare",
      "Prepare the task named by task.name (fortunes): corpus split, prompts, tokenizer and SFT model, cached "
      "in task.cache_dir and reused when the settings are unchanged");
  auto args = std::make_shared<ConfigArgs>();
  auto name = std::make_shared<std::string>();
  add_config_args(*prepare, *args, /*config_required=*/false);
  prepare->add_option("--name", *name, "Task to prepare (overrides task.name)")->check(CLI::IsMember({"fortunes"}));
  prepare->footer(
      "fortunes reads Debian's fortunes package (task.fortunes_dir). The cache entry\n"
      "TASK.cache_dir/fortunes-<key>/ holds train_prompts.jsonl (preference records), eval_prompts.jsonl,\n"
      "sft_train.jsonl, sft_eval.jsonl, tokenizer/, model/ and sft_eval.json; done.json marks it complete.");
  prepare->callback([args, name] { run_prepare(*args, *name); });
}

}  // namespace selm::cli
