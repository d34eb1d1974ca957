// `selm train` data-parallel over Gloo on 127.0.0.1: two ranks started by `selm launch` against
// one process with the same global batch; a rank killed with SIGKILL in training; SIGUSR1 in
// training (a scheduler's preemption warning); and the resumed runs.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <mutex>
#include <random>
#include <cstdlib>
#include <functional>
#include <map>
#include <memory>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "selm/train/checkpoint.hpp"
#include "selm/util/stop_request.hpp"
#include "selm/util/subprocess.hpp"
#include "support/online_run_fixture.hpp"
#include "support/test_support.hpp"

namespace selm {
namespace SELM_UNITY_ID {

using test::read_text;
using test::run_selm;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// The one-process set-up of a 2-rank job with per-rank batch 2: batch 2, accumulation 2.
std::vector<std::string> one_process(std::vector<std::string> args) {
  args.push_back("train.gradient_accumulation_steps=2");
  return args;
}

std::vector<std::string> launched(const std::vector<std::string>& train_args) {
  std::vector<std::string> args = {"launch", "--nproc", "2", "--", "selm"};
  args.insert(args.end(), train_args.begin(), train_args.end());
  return args;
}

class OnlineTrainParallel : public test::OnlineRunFixture {
 protected:
  // Long enough training that a signal lands in it: 40 epochs of round 1's pairs.
  static std::vector<std::string> long_training(const std::string& name) {
    return train_args(name, {"train.epochs=40", "run.collective_timeout_seconds=20"});
  }
  // The one-process run of long_training that interrupted runs must end equal to (made once).
  static void ensure_uninterrupted_run() {
    if (fs::exists(run_dir("uninterrupted") / "round-2/model/model.safetensors")) return;
    const auto reference = run_selm(one_process(long_training("uninterrupted")));
    ASSERT_EQ(reference.exit_code, 0) << reference.output;
  }
  // `selm launch --nproc 2 -- selm ARGS...` running in the background, its lines to `sink`.
  // With `as_terminal_job` it leads a process group, as a shell's foreground job does.
  static std::unique_ptr<Subprocess> start_launch(const std::vector<std::string>& args,
                                                  const std::function<void(const std::string&)>& sink,
                                                  bool as_terminal_job = false) {
    std::vector<std::string> argv = {SELM_BINARY};
    for (const std::string& arg : launched(args)) argv.push_back(arg);
    SubprocessOptions options;
    options.pipe_stdout = true;
    options.pipe_stderr = true;
    options.own_process_group = as_terminal_job;
    auto launch = std::make_unique<Subprocess>(argv, options);
    launch->forward_stdout_lines(sink);
    launch->forward_stderr_lines(sink);
    return launch;
  }
};

// The files whose bytes one process and two ranks must agree on.
const std::vector<std::string> kSharedFiles = {
    "baseline/eval_generations.jsonl", "round-1/generations.jsonl",       "round-1/judgments.jsonl",
    "round-1/preferences.jsonl",        "round-1/eval_generations.jsonl", "round-1/eval_judgments.jsonl",
    "round-2/generations.jsonl",       "round-2/judgments.jsonl",        "round-2/preferences.jsonl",
    "round-2/eval_generations.jsonl",  "round-2/eval_judgments.jsonl",   "round-2/pairing.json",
    "round-1/model/model.safetensors", "round-2/model/model.safetensors"};

std::vector<double> train_losses(const fs::path& run) {
  std::vector<double> losses;
  for (const char* round : {"round-1", "round-2"}) {
    for (const auto& record : test::read_json_lines(run / round / "train_metrics.jsonl")) {
      losses.push_back(record.at("loss").get<double>());
    }
  }
  return losses;
}

// The summary table's rows (the lines that start with a round number or "init").
std::vector<std::string> summary_rows(const std::string& output) {
  std::vector<std::string> rows;
  std::istringstream in(output);
  std::string line;
  while (std::getline(in, line)) {
    const std::string prefix = "[rank 0] ";
    if (line.compare(0, prefix.size(), prefix) == 0) line = line.substr(prefix.size());
    if (line.compare(0, 5, "init ") == 0 || line.compare(0, 2, "1 ") == 0 || line.compare(0, 2, "2 ") == 0) {
      rows.push_back(line);
    }
  }
  return rows;
}

TEST_F(OnlineTrainParallel, TwoLaunchedRanksWriteWhatOneProcessWrites) {
  const auto single = run_selm(one_process(train_args("single")));
  ASSERT_EQ(single.exit_code, 0) << single.output;
  const auto pair = run_selm(launched(train_args("pair")));
  ASSERT_EQ(pair.exit_code, 0) << pair.output;
  EXPECT_NE(pair.output.find("[rank 1] "), std::string::npos);
  EXPECT_NE(pair.output.find("joining a 2-process gloo group"), std::string::npos) << pair.output;
  for (const std::string& file : kSharedFiles) {
    EXPECT_EQ(read_text(run_dir("single") / file), read_text(run_dir("pair") / file)) << file;
  }
  const std::vector<double> single_losses = train_losses(run_dir("single"));
  const std::vector<double> pair_losses = train_losses(run_dir("pair"));
  ASSERT_EQ(single_losses.size(), pair_losses.size());
  ASSERT_FALSE(single_losses.empty());
  for (std::size_t step = 0; step < single_losses.size(); ++step) {
    EXPECT_NEAR(single_losses[step], pair_losses[step], 1e-5) << step;
  }
  const std::vector<std::string> single_rows = summary_rows(single.output);
  EXPECT_EQ(single_rows.size(), 3u) << single.output;
  EXPECT_EQ(single_rows, summary_rows(pair.output));
  // No shard is left behind, and only rank 0 wrote the log.
  for (const auto& entry : fs::recursive_directory_iterator(run_dir("pair"))) {
    EXPECT_EQ(entry.path().filename().string().find(".shard-"), std::string::npos) << entry.path();
  }
}

// `selm dpo` and `selm sft` as two launched ranks, against one process with twice the
// accumulation: the same reference log-probs and the same final weights.
TEST_F(OnlineTrainParallel, LaunchedDpoAndSftEqualOneProcess) {
  test::write_text(path("dpo.yaml"), "run:\n  threads: 1\nmodel:\n  path: " + path("model") + "\ndata:\n  train_file: " +
                                         path("prefs.jsonl") + "\ntrain:\n  loss: dpo\n  beta: 0.1\n  learning_rate: 0.001\n"
                                         "  batch_size: 2\n  epochs: 2\n  max_length: 64\n  max_prompt_length: 32\n");
  const std::string dpo_single = (dir_->path() / "dpo-single").string();
  const std::string dpo_pair = (dir_->path() / "dpo-pair").string();
  const auto single = run_selm({"dpo", "-c", path("dpo.yaml"), "--out", dpo_single, "train.gradient_accumulation_steps=2"});
  ASSERT_EQ(single.exit_code, 0) << single.output;
  const auto pair = run_selm(launched({"dpo", "-c", path("dpo.yaml"), "--out", dpo_pair}));
  ASSERT_EQ(pair.exit_code, 0) << pair.output;
  EXPECT_EQ(read_text(fs::path(dpo_single) / "preferences_with_reference.jsonl"),
            read_text(fs::path(dpo_pair) / "preferences_with_reference.jsonl"));
  EXPECT_EQ(read_text(fs::path(dpo_single) / "model/model.safetensors"),
            read_text(fs::path(dpo_pair) / "model/model.safetensors"));
  // ZeRO-1: each rank updates its share of the parameters; the weights are the same.
  const std::string dpo_sharded = (dir_->path() / "dpo-sharded").string();
  const auto sharded =
      run_selm(launched({"dpo", "-c", path("dpo.yaml"), "--out", dpo_sharded, "train.shard_optimizer_state=true"}));
  ASSERT_EQ(sharded.exit_code, 0) << sharded.output;
  EXPECT_EQ(read_text(fs::path(dpo_pair) / "model/model.safetensors"),
            read_text(fs::path(dpo_sharded) / "model/model.safetensors"));

  // SFT weighs each rank's loss by its tokens: the same training within float rounding.
  std::string sft_data;
  for (const auto& record : test::read_json_lines(path("prefs.jsonl"))) {
    sft_data += nlohmann::json{{"prompt", record.at("prompt")}, {"response", record.at("chosen")}}.dump() + "\n";
  }
  test::write_text(path("sft.jsonl"), sft_data);
  test::write_text(path("sft.yaml"), "run:\n  threads: 1\nmodel:\n  path: " + path("model") + "\nsft:\n  train_file: " +
                                         path("sft.jsonl") + "\ntrain:\n  learning_rate: 0.001\n  batch_size: 3\n"
                                         "  epochs: 1\n  max_length: 64\n  max_prompt_length: 32\n");
  const auto sft_single = run_selm({"sft", "-c", path("sft.yaml"), "--out", path("sft-single"), "train.batch_size=6"});
  ASSERT_EQ(sft_single.exit_code, 0) << sft_single.output;
  const auto sft_pair = run_selm(launched({"sft", "-c", path("sft.yaml"), "--out", path("sft-pair")}));
  ASSERT_EQ(sft_pair.exit_code, 0) << sft_pair.output;
  const auto single_losses = test::read_json_lines(fs::path(path("sft-single")) / "train_metrics.jsonl");
  const auto pair_losses = test::read_json_lines(fs::path(path("sft-pair")) / "train_metrics.jsonl");
  ASSERT_EQ(single_losses.size(), pair_losses.size());
  for (std::size_t step = 0; step < single_losses.size(); ++step) {
    EXPECT_NEAR(single_losses[step].at("grad_norm").get<double>(), pair_losses[step].at("grad_norm").get<double>(),
                1e-5 * single_losses[step].at("grad_norm").get<double>())
        << step;
  }
}

// The lines of a command's output that are JSON records (`selm score` prints them), without the
// rank prefix of `selm launch`; `rank_one_lines` counts those rank 1 printed.
std::vector<std::string> json_lines(const std::string& output, int* rank_one_lines = nullptr) {
  std::vector<std::string> lines;
  std::istringstream in(output);
  std::string line;
  while (std::getline(in, line)) {
    for (const std::string prefix : {"[rank 0] ", "[rank 1] "}) {
      if (line.compare(0, prefix.size(), prefix) != 0) continue;
      if (prefix == "[rank 1] " && rank_one_lines != nullptr && line.size() > prefix.size() &&
          line[prefix.size()] == '{') {
        ++*rank_one_lines;
      }
      line = line.substr(prefix.size());
    }
    if (!line.empty() && line[0] == '{') lines.push_back(line);
  }
  return lines;
}

// Every file of a folder, by name.
std::map<std::string, std::string> folder_files(const fs::path& folder) {
  std::map<std::string, std::string> files;
  for (const auto& entry : fs::directory_iterator(folder)) files[entry.path().filename().string()] = read_text(entry.path());
  return files;
}

// The standalone stages as two ranks: `selm eval` (baseline and policy generation, KL samples,
// judging), `selm judge` and `selm score` write or print exactly what one process does.
TEST_F(OnlineTrainParallel, LaunchedEvalJudgeAndScoreEqualOneProcess) {
  test::write_text(path("stages.yaml"), "run:\n  threads: 1\njudge:\n  type: lexicon\n  batch_size: 1\ngenerate:\n"
                                            "  max_new_tokens: 8\n  batch_size: 1\neval:\n  temperature: 1.0\n"
                                            "  kl_samples: 2\ntrain:\n  max_length: 64\n  max_prompt_length: 32\n");
  // Eight prompts: two chunks of four (generate.batch_size 1) for the responses, one per rank.
  std::string prompts;
  for (const char* subject : {"sea", "garden", "ship", "captain", "night", "road", "bread", "stars"}) {
    prompts += nlohmann::json{{"prompt", std::string("Tell me about the ") + subject + "."}}.dump() + "\n";
  }
  test::write_text(path("stage_prompts.jsonl"), prompts);
  const auto eval_args = [&](const std::string& out) {
    return std::vector<std::string>{"eval",        "-c",          path("stages.yaml"), "--model",   path("model"),
                                    "--baseline",  path("model"), "--reference",       path("model"), "--prompts",
                                    path("stage_prompts.jsonl"), "--out", path(out)};
  };
  const auto eval_single = run_selm(eval_args("eval-single"));
  ASSERT_EQ(eval_single.exit_code, 0) << eval_single.output;
  const auto eval_pair = run_selm(launched(eval_args("eval-pair")));
  ASSERT_EQ(eval_pair.exit_code, 0) << eval_pair.output;
  EXPECT_NE(eval_pair.output.find("joining a 2-process gloo group"), std::string::npos) << eval_pair.output;
  EXPECT_NE(eval_pair.output.find("[rank 0] eval: win rate"), std::string::npos) << eval_pair.output;
  EXPECT_EQ(eval_pair.output.find("[rank 1] eval: win rate"), std::string::npos) << eval_pair.output;
  // Each rank generated, sampled and judged four of the eight prompts.
  for (const char* share : {"[rank 1/2] baseline 4/4 prompts", "[rank 1/2] eval 4/4 prompts",
                            "[rank 1/2] eval KL samples 4/4 prompts", "[rank 1/2] eval judge 4/4 prompts",
                            "[rank 0/2] eval judge 4/4 prompts"}) {
    EXPECT_NE(eval_pair.output.find(share), std::string::npos) << share << "\n" << eval_pair.output;
  }
  const auto single_files = folder_files(path("eval-single"));
  const auto pair_files = folder_files(path("eval-pair"));
  for (const char* name : {"baseline_generations.jsonl", "eval_generations.jsonl", "eval_samples.jsonl",
                           "eval_judgments.jsonl", "eval.json"}) {
    ASSERT_EQ(single_files.count(name), 1u) << name;
  }
  EXPECT_EQ(test::read_json_lines(fs::path(path("eval-single")) / "eval_samples.jsonl").size(), 16u);
  EXPECT_EQ(single_files, pair_files);  // the same files, byte for byte, and no shard left

  // Judging the policy's responses against the baseline's, one request per batch.
  std::string candidates;
  const auto policy = test::read_json_lines(fs::path(path("eval-single")) / "eval_generations.jsonl");
  const auto baseline = test::read_json_lines(fs::path(path("eval-single")) / "baseline_generations.jsonl");
  for (std::size_t i = 0; i < policy.size(); ++i) {
    candidates += nlohmann::json{{"prompt", "prompt " + std::to_string(i)},
                                 {"candidates", {policy[i].at("response"), baseline[i].at("response"),
                                                 "What a wonderful, happy day!"}}}.dump() + "\n";
  }
  candidates += "{\"id\": \"last\", \"prompt\": \"q\", \"candidates\": [\"I hate it, it is terrible.\", \"I love it.\"]}\n";
  test::write_text(path("candidates.jsonl"), candidates);
  const auto judge_args = [&](const std::string& out) {
    return std::vector<std::string>{"judge", "-c", path("stages.yaml"), "--in", path("candidates.jsonl"), "--out", path(out)};
  };
  const auto judge_single = run_selm(judge_args("judged-single.jsonl"));
  ASSERT_EQ(judge_single.exit_code, 0) << judge_single.output;
  const auto judge_pair = run_selm(launched(judge_args("judged-pair.jsonl")));
  ASSERT_EQ(judge_pair.exit_code, 0) << judge_pair.output;
  EXPECT_EQ(read_text(path("judged-single.jsonl")), read_text(path("judged-pair.jsonl")));
  EXPECT_EQ(test::read_json_lines(path("judged-pair.jsonl")).size(), policy.size() + 1);
  EXPECT_FALSE(fs::exists(path("judged-pair.jsonl.shard-1")));
  // Rank 0 reports the job's counts: both ranks' judgments.
  EXPECT_NE(judge_pair.output.find("[rank 0] [info] judged 9 prompts: ok 9"), std::string::npos) << judge_pair.output;
  // Resumed as one process, nothing is left to judge.
  auto resume_args = judge_args("judged-pair.jsonl");
  resume_args.push_back("--resume");
  const auto resumed = run_selm(resume_args);
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_NE(resumed.output.find("judged 0 prompts"), std::string::npos) << resumed.output;
  EXPECT_EQ(read_text(path("judged-single.jsonl")), read_text(path("judged-pair.jsonl")));

  // Scoring the twelve preference pairs, two per batch: six batches, three per rank.
  const std::vector<std::string> score_args = {"score", "-c", path("stages.yaml"), "--policy", path("model"),
                                               "--reference", path("model"), "--data", path("prefs.jsonl"),
                                               "--loss", "dpo", "--batch-size", "2"};
  const auto score_single = run_selm(score_args);
  ASSERT_EQ(score_single.exit_code, 0) << score_single.output;
  const auto score_pair = run_selm(launched(score_args));
  ASSERT_EQ(score_pair.exit_code, 0) << score_pair.output;
  int rank_one_lines = 0;
  const std::vector<std::string> single_lines = json_lines(score_single.output);
  ASSERT_EQ(single_lines.size(), 13u) << score_single.output;  // twelve records and the summary
  for (std::size_t i = 0; i + 1 < single_lines.size(); ++i) {
    EXPECT_LT(nlohmann::json::parse(single_lines[i]).at("policy_logps").at("chosen").get<double>(), 0.0) << i;
  }
  EXPECT_EQ(json_lines(score_pair.output, &rank_one_lines), single_lines);
  EXPECT_EQ(rank_one_lines, 0) << score_pair.output;
}

// Stage files carry over between world sizes: two ranks generate and judge round 1, and one
// process finishes the run, with the files one process alone writes.
TEST_F(OnlineTrainParallel, StagesOfTwoRanksResumeAsOneProcess) {
  if (!fs::exists(run_dir("single") / "round-2/model/model.safetensors")) {
    const auto single = run_selm(one_process(train_args("single")));
    ASSERT_EQ(single.exit_code, 0) << single.output;
  }
  const auto started = run_selm(launched(one_process(train_args("mixed", {"--stop-after-stage", "round-1/judge"}))));
  ASSERT_EQ(started.exit_code, 0) << started.output;
  EXPECT_NE(started.output.find("stopped after stage round-1/judge"), std::string::npos) << started.output;
  EXPECT_FALSE(fs::exists(run_dir("mixed") / "round-1/preferences.jsonl"));
  const auto finished = run_selm(one_process(train_args("mixed")));
  ASSERT_EQ(finished.exit_code, 0) << finished.output;
  for (const std::string& file : kSharedFiles) {
    EXPECT_EQ(read_text(run_dir("single") / file), read_text(run_dir("mixed") / file)) << file;
  }
}

// A rank started by hand with torchrun's variables, its output in `log`.
std::unique_ptr<Subprocess> start_rank(int rank, int port, const std::vector<std::string>& args, const fs::path& log) {
  ::setenv("RANK", std::to_string(rank).c_str(), 1);
  ::setenv("WORLD_SIZE", "2", 1);
  ::setenv("LOCAL_RANK", std::to_string(rank).c_str(), 1);
  ::setenv("MASTER_ADDR", "127.0.0.1", 1);
  ::setenv("MASTER_PORT", std::to_string(port).c_str(), 1);
  std::vector<std::string> argv = {"/bin/sh", "-c", "exec \"$0\" \"$@\" >\"" + log.string() + "\" 2>&1", SELM_BINARY};
  argv.insert(argv.end(), args.begin(), args.end());
  auto process = std::make_unique<Subprocess>(argv, SubprocessOptions{});
  for (const char* name : {"RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"}) ::unsetenv(name);
  return process;
}

int exit_code_of(int status) { return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status); }

std::int64_t checkpoint_step(const fs::path& dir) {
  try {
    const auto checkpoint = find_checkpoint(dir);
    return checkpoint ? read_trainer_state(*checkpoint).global_step : 0;
  } catch (const std::exception&) {
    return -1;  // being renamed: try again
  }
}

// Waits until round 1's training has checkpointed at least `step` steps.
bool wait_for_checkpoint(const fs::path& run, std::int64_t step, std::chrono::seconds limit) {
  const auto deadline = Clock::now() + limit;
  while (Clock::now() < deadline) {
    if (checkpoint_step(run / "round-1") >= step) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

TEST_F(OnlineTrainParallel, AKilledRankStopsTheOtherWithAMessageAndTheLaunchResumes) {
  ASSERT_NO_FATAL_FAILURE(ensure_uninterrupted_run());

  const int port = 29000 + static_cast<int>(::getpid() % 1000);
  const std::vector<std::string> args = long_training("killed");
  auto rank0 = start_rank(0, port, args, dir_->path() / "killed-rank0.log");
  auto rank1 = start_rank(1, port, args, dir_->path() / "killed-rank1.log");
  ASSERT_TRUE(wait_for_checkpoint(run_dir("killed"), 3, std::chrono::seconds(120)))
      << read_text(dir_->path() / "killed-rank0.log");
  rank1->send_signal(SIGKILL);
  const auto killed_at = Clock::now();
  rank1->wait();
  const int status = rank0->wait_or_kill(std::chrono::seconds(40));
  const double seconds = std::chrono::duration<double>(Clock::now() - killed_at).count();
  const std::string log = read_text(dir_->path() / "killed-rank0.log");
  EXPECT_NE(exit_code_of(status), 0) << log;
  EXPECT_LT(seconds, 20.0 + 10.0);
  EXPECT_NE(log.find("rank 0/2, training"), std::string::npos) << log;
  EXPECT_NE(log.find("a peer process died or the collective passed run.collective_timeout_seconds"), std::string::npos)
      << log;

  const auto resumed = run_selm(launched(args));
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_NE(resumed.output.find("resuming training from"), std::string::npos);
  EXPECT_EQ(read_text(run_dir("uninterrupted") / "round-2/model/model.safetensors"),
            read_text(run_dir("killed") / "round-2/model/model.safetensors"));
}

TEST_F(OnlineTrainParallel, SigusrOneStopsEveryRankAfterTheStepAndTheRerunFinishes) {
  ASSERT_NO_FATAL_FAILURE(ensure_uninterrupted_run());
  std::string output;
  std::mutex output_mutex;
  const auto launch = start_launch(long_training("preempted"), [&](const std::string& line) {
    const std::lock_guard<std::mutex> lock(output_mutex);
    output += line + "\n";
  });
  ASSERT_TRUE(wait_for_checkpoint(run_dir("preempted"), 2, std::chrono::seconds(120)));
  const std::int64_t step_at_signal = checkpoint_step(run_dir("preempted") / "round-1");
  launch->send_signal(SIGUSR1);
  const int status = launch->wait_or_kill(std::chrono::seconds(60));
  {
    const std::lock_guard<std::mutex> lock(output_mutex);
    EXPECT_EQ(exit_code_of(status), kExitStopped) << output;
    EXPECT_NE(output.find("[rank 0] selm: training stopped by SIGUSR1 after step"), std::string::npos) << output;
    EXPECT_NE(output.find("[rank 1] selm: training stopped by SIGUSR1 after step"), std::string::npos) << output;
  }
  // Within a step or so of the signal, and saved there.
  const std::int64_t stopped_at = checkpoint_step(run_dir("preempted") / "round-1");
  EXPECT_GE(stopped_at, step_at_signal);
  EXPECT_LE(stopped_at, step_at_signal + 3);

  const auto rerun = run_selm(launched(long_training("preempted")));
  ASSERT_EQ(rerun.exit_code, 0) << rerun.output;
  EXPECT_EQ(read_text(run_dir("uninterrupted") / "round-2/model/model.safetensors"),
            read_text(run_dir("preempted") / "round-2/model/model.safetensors"));
}

// Ctrl-C in a terminal: SIGINT goes to the launcher's whole process group. The ranks lead groups
// of their own, so they get it once, forwarded, and stop cleanly after the step (a second
// SIGINT would stop them at once).
TEST_F(OnlineTrainParallel, CtrlCInATerminalStopsEveryRankCleanly) {
  ASSERT_NO_FATAL_FAILURE(ensure_uninterrupted_run());
  std::string output;
  std::mutex output_mutex;
  const auto launch = start_launch(
      long_training("interrupted"),
      [&](const std::string& line) {
        const std::lock_guard<std::mutex> lock(output_mutex);
        output += line + "\n";
      },
      /*as_terminal_job=*/true);
  ASSERT_TRUE(wait_for_checkpoint(run_dir("interrupted"), 2, std::chrono::seconds(120)));
  ASSERT_EQ(::kill(-launch->pid(), SIGINT), 0);
  const int status = launch->wait_or_kill(std::chrono::seconds(60));
  {
    const std::lock_guard<std::mutex> lock(output_mutex);
    EXPECT_EQ(exit_code_of(status), kExitStopped) << output;
    EXPECT_NE(output.find("[rank 1] selm: training stopped by SIGINT after step"), std::string::npos) << output;
  }
  const auto rerun = run_selm(launched(long_training("interrupted")));
  ASSERT_EQ(rerun.exit_code, 0) << rerun.output;
  EXPECT_EQ(read_text(run_dir("uninterrupted") / "round-2/model/model.safetensors"),
            read_text(run_dir("interrupted") / "round-2/model/model.safetensors"));
}

// Every process of the job killed at once (the launcher with SIGKILL takes its ranks with it) at
// five random moments, in any stage, then resumed: the run ends with the uninterrupted weights.
TEST_F(OnlineTrainParallel, KillingEveryRankAtRandomMomentsThenResumingEndsWithTheSameWeights) {
  ASSERT_NO_FATAL_FAILURE(ensure_uninterrupted_run());
  std::mt19937 random(20261202);
  std::uniform_int_distribution<int> delay_ms(300, 2500);
  int killed_while_running = 0;
  for (int kill = 0; kill < 5; ++kill) {
    const auto launch = start_launch(long_training("killed_all"), [](const std::string&) {});
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms(random)));
    if (!launch->try_wait()) {
      ++killed_while_running;
      launch->send_signal(SIGKILL);
      launch->wait();
    }
    // The ranks die with the launcher; wait until no process holds the run any more.
    const auto deadline = Clock::now() + std::chrono::seconds(10);
    bool alive = true;
    while (alive && Clock::now() < deadline) {
      alive = false;
      for (const auto& entry : fs::directory_iterator("/proc")) {
        const std::string name = entry.path().filename().string();
        if (name.find_first_not_of("0123456789") != std::string::npos) continue;
        std::string cmdline;
        try {
          cmdline = read_text(entry.path() / "cmdline");
        } catch (const std::exception&) {
          continue;
        }
        if (cmdline.find("killed_all") != std::string::npos) alive = true;
      }
      if (alive) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    ASSERT_FALSE(alive) << "a rank outlived its launcher";
  }
  EXPECT_GE(killed_while_running, 3);
  const auto resumed = run_selm(launched(long_training("killed_all")));
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_EQ(read_text(run_dir("uninterrupted") / "round-2/model/model.safetensors"),
            read_text(run_dir("killed_all") / "round-2/model/model.safetensors"));
  for (const char* file : {"round-2/generations.jsonl", "round-2/judgments.jsonl", "round-2/eval_generations.jsonl"}) {
    EXPECT_EQ(read_text(run_dir("uninterrupted") / file), read_text(run_dir("killed_all") / file)) << file;
  }
}

// scripts/slurm/multi_node.sbatch with Slurm faked: the job's variables set, and an `srun` that
// starts SLURM_NTASKS local tasks with their SLURM_PROCID and SLURM_LOCALID. The ranks find
// their places and the master (the node list's first host) from those variables alone.
TEST_F(OnlineTrainParallel, TheMultiNodeSbatchTemplateRunsAJobUnderAFakedSlurm) {
  if (!fs::exists(run_dir("single") / "round-2/model/model.safetensors")) {
    const auto single = run_selm(one_process(train_args("single")));
    ASSERT_EQ(single.exit_code, 0) << single.output;
  }
  const fs::path bin = dir_->path() / "fake-slurm-bin";
  test::write_text(bin / "srun",
                   "#!/bin/sh\n"
                   "# srun's options are ignored; the command runs as SLURM_NTASKS local tasks\n"
                   "while [ $# -gt 0 ]; do case \"$1\" in --*) shift ;; *) break ;; esac; done\n"
                   "pids=''\ni=0\n"
                   "while [ $i -lt \"$SLURM_NTASKS\" ]; do\n"
                   "  SLURM_PROCID=$i SLURM_LOCALID=$i SLURM_NODEID=0 \"$@\" > \"$FAKE_SRUN_DIR/task-$i.log\" 2>&1 &\n"
                   "  pids=\"$pids $!\"\n  i=$((i + 1))\ndone\n"
                   "code=0\nfor pid in $pids; do wait $pid || code=$?; done\nexit $code\n");
  fs::permissions(bin / "srun", fs::perms::owner_all);
  const std::string job_id = std::to_string(5000 + ::getpid() % 10000);
  std::vector<std::string> command = {
      "PATH=" + bin.string() + ":" + std::getenv("PATH"), "FAKE_SRUN_DIR=" + dir_->path().string(),
      "SLURM_JOB_ID=" + job_id, "SLURM_NTASKS=2", "SLURM_NTASKS_PER_NODE=2", "SLURM_JOB_NODELIST=127.0.0.1",
      "SLURM_SUBMIT_DIR=" + dir_->path().string(), std::string("SELM=") + SELM_BINARY,
      "bash", (fs::path(SELM_SOURCE_DIR) / "scripts/slurm/multi_node.sbatch").string()};
  const std::vector<std::string> args = train_args("slurm");
  command.insert(command.end(), args.begin() + 2, args.end());  // the config and overrides, after `train -c`
  const auto job = test::run_program("env", command);
  ASSERT_EQ(job.exit_code, 0) << job.output << read_text(dir_->path() / "task-0.log");
  const std::string rank1 = read_text(dir_->path() / "task-1.log");
  EXPECT_NE(rank1.find("(SLURM environment)"), std::string::npos) << rank1;
  EXPECT_NE(rank1.find("group at 127.0.0.1:" + std::to_string(20000 + std::stoi(job_id) % 20000)), std::string::npos)
      << rank1;
  for (const std::string& file : kSharedFiles) {
    EXPECT_EQ(read_text(run_dir("single") / file), read_text(run_dir("slurm") / file)) << file;
  }
}

}  // namespace SELM_UNITY_ID
}  // namespace selm
