// `selm sweep`: grid expansion (order, names, resolved values), located errors for bad sweep
// files, the Slurm job array script, the local runner (through a stand-in for `selm train`), and
// the Slurm templates in scripts/slurm.
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "selm/config/config.hpp"
#include "selm/sweep/sweep_plan.hpp"
#include "selm/sweep/sweep_spec.hpp"
#include "selm/util/error.hpp"
#include "support/test_support.hpp"

namespace selm {
namespace SELM_UNITY_ID {

namespace fs = std::filesystem;

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) lines.push_back(line);
  }
  return lines;
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// A tiny base config (no model needed: the sweep only resolves configs) and the sweep of the
// brief over it.
void write_alpha_sweep(const test::TempDir& dir) {
  test::write_text(dir / "base" / "tiny.yaml",
                   "run:\n  output_dir: " + (dir / "runs").string() + "\ntrain:\n  beta: 0.2\n  alpha: 0.5\n");
  test::write_text(dir / "sweep.yaml",
                   "name: alpha\n"
                   "base: [base/tiny.yaml]\n"
                   "overrides: [\"online.rounds=3\"]\n"
                   "grid:\n"
                   "  train.alpha: [0, 1.0e-4, 1.0e-3, 1.0e-2]\n"
                   "  run.seed: [1, 2, 3]\n");
}

const std::vector<std::string> kAlphaRunNames = {
    "alpha-alpha=0-seed=1",      "alpha-alpha=0-seed=2",      "alpha-alpha=0-seed=3",
    "alpha-alpha=0.0001-seed=1", "alpha-alpha=0.0001-seed=2", "alpha-alpha=0.0001-seed=3",
    "alpha-alpha=0.001-seed=1",  "alpha-alpha=0.001-seed=2",  "alpha-alpha=0.001-seed=3",
    "alpha-alpha=0.01-seed=1",   "alpha-alpha=0.01-seed=2",   "alpha-alpha=0.01-seed=3"};

TEST(OnlineSweep, ExpandsTheGridInOrderLastKeyFastest) {
  test::TempDir dir;
  write_alpha_sweep(dir);
  const SweepSpec spec = load_sweep_spec(dir / "sweep.yaml");
  ASSERT_EQ(spec.grid.size(), 2u);
  EXPECT_EQ(spec.grid[0].key, "train.alpha");
  EXPECT_EQ(spec.grid[0].short_key, "alpha");
  EXPECT_EQ(spec.grid[0].line, 5u);
  EXPECT_EQ(spec.grid[1].short_key, "seed");
  EXPECT_EQ(spec.base_files, std::vector<std::string>{(dir / "base/tiny.yaml").string()});

  const SweepPlan plan = expand_sweep(spec);
  EXPECT_EQ(plan.directory, dir / "runs" / "alpha");
  const double alphas[] = {0, 1e-4, 1e-3, 1e-2};
  ASSERT_EQ(plan.runs.size(), 12u);
  for (std::size_t i = 0; i < plan.runs.size(); ++i) {
    const SweepRun& run = plan.runs[i];
    EXPECT_EQ(run.name, kAlphaRunNames[i]);
    EXPECT_EQ(run.config.run.name, kAlphaRunNames[i]);
    EXPECT_DOUBLE_EQ(run.config.train.alpha, alphas[i / 3]);
    EXPECT_EQ(run.config.run.seed, static_cast<std::int64_t>(i % 3 + 1));
    EXPECT_EQ(run.config.online.rounds, 3);
    EXPECT_DOUBLE_EQ(run.config.train.beta, 0.2);  // from the base file
    EXPECT_EQ(run.config.run.output_dir, (dir / "runs" / "alpha").string());
    EXPECT_EQ(run.config_path, dir / "runs" / "alpha" / "configs" / (kAlphaRunNames[i] + ".yaml"));
  }
  EXPECT_EQ(plan.runs[7].grid_overrides, (std::vector<std::string>{"train.alpha=1.0e-3", "run.seed=2"}));
  EXPECT_FALSE(fs::exists(dir / "runs")) << "expand_sweep must not write anything";
}

TEST(OnlineSweep, RunNamesAreFileSafeAndAmbiguousShortKeysStayFull) {
  EXPECT_EQ(sweep_run_name("s", {"system_prompt", "chat_template"}, {"be/brief now", "chatml"}),
            "s-system_prompt=be_brief_now-chat_template=chatml");
  test::TempDir dir;
  test::write_text(dir / "base.yaml", "run:\n  output_dir: " + (dir / "runs").string() + "\n");
  test::write_text(dir / "sweep.yaml",
                   "base: base.yaml\n"
                   "grid:\n"
                   "  train.seed: [7]\n"
                   "  run.seed: [5e-1, 3]\n"
                   "  tokenizer.system_prompt: [\"a b/c\"]\n");
  // run.seed takes integers: 5e-1 is rejected with the line of that value.
  try {
    expand_sweep(load_sweep_spec(dir / "sweep.yaml"));
    FAIL() << "a non-integer seed must be rejected";
  } catch (const InputError& error) {
    EXPECT_TRUE(contains(error.what(), (dir / "sweep.yaml").string() + ":4: grid key 'run.seed' = 5e-1"))
        << error.what();
    EXPECT_TRUE(contains(error.what(), "expected an integer")) << error.what();
  }
  test::write_text(dir / "sweep.yaml",
                   "base: base.yaml\n"
                   "grid:\n"
                   "  train.seed: [7]\n"
                   "  run.seed: [3]\n"
                   "  tokenizer.system_prompt: [\"a b/c\"]\n");
  const SweepPlan plan = expand_sweep(load_sweep_spec(dir / "sweep.yaml"));
  ASSERT_EQ(plan.runs.size(), 1u);
  // The sweep name defaults to the file's stem; both seeds keep their full keys.
  EXPECT_EQ(plan.runs[0].name, "sweep-train.seed=7-run.seed=3-system_prompt=a_b_c");
  EXPECT_EQ(plan.runs[0].config.tokenizer.system_prompt, "a b/c");
  EXPECT_EQ(plan.runs[0].config.train.seed, 7);
}

TEST(OnlineSweep, DryRunWritesResolvedConfigsAndRunList) {
  test::TempDir dir;
  write_alpha_sweep(dir);
  const auto result = test::run_selm({"sweep", "-c", (dir / "sweep.yaml").string(), "--dry-run"});
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_TRUE(contains(result.output, "sweep alpha: 12 runs")) << result.output;
  const fs::path sweep_dir = dir / "runs" / "alpha";
  const std::vector<std::string> listed = lines_of(test::read_text(sweep_dir / "runs.txt"));
  ASSERT_EQ(listed.size(), 12u);
  const double alphas[] = {0, 1e-4, 1e-3, 1e-2};
  for (std::size_t i = 0; i < listed.size(); ++i) {
    EXPECT_EQ(listed[i], (sweep_dir / "configs" / (kAlphaRunNames[i] + ".yaml")).string());
    // The written file is a complete config: it loads on its own, without the base or the sweep.
    const Config config = load_config({listed[i]}, {});
    EXPECT_EQ(config.run.name, kAlphaRunNames[i]);
    EXPECT_EQ(config.run.output_dir, sweep_dir.string());
    EXPECT_DOUBLE_EQ(config.train.alpha, alphas[i / 3]);
    EXPECT_EQ(config.run.seed, static_cast<std::int64_t>(i % 3 + 1));
    EXPECT_EQ(config.online.rounds, 3);
    EXPECT_DOUBLE_EQ(config.train.beta, 0.2);
  }
  EXPECT_FALSE(fs::exists(sweep_dir / "sweep.sbatch"));

  // --out moves the sweep folder and the runs' output_dir with it.
  const auto moved = test::run_selm({"sweep", "-c", (dir / "sweep.yaml").string(), "--dry-run", "--out",
                                     (dir / "elsewhere").string()});
  ASSERT_EQ(moved.exit_code, 0) << moved.output;
  const Config first = load_config({(dir / "elsewhere/alpha/configs" / (kAlphaRunNames[0] + ".yaml")).string()}, {});
  EXPECT_EQ(first.run.output_dir, (dir / "elsewhere" / "alpha").string());
}

TEST(OnlineSweep, OutputDirKeyIsRelativeToTheWorkingDirectory) {
  test::TempDir dir;
  write_alpha_sweep(dir);
  test::write_text(dir / "sweep.yaml",
                   "name: alpha\nbase: [base/tiny.yaml]\noutput_dir: " + (dir / "sweeps").string() +
                       "\ngrid:\n  run.seed: [1, 2]\n");
  const SweepPlan plan = expand_sweep(load_sweep_spec(dir / "sweep.yaml"));
  EXPECT_EQ(plan.directory, dir / "sweeps" / "alpha");
  ASSERT_EQ(plan.runs.size(), 2u);
  EXPECT_EQ(plan.runs[1].name, "alpha-seed=2");
  EXPECT_EQ(plan.runs[1].config.run.output_dir, (dir / "sweeps" / "alpha").string());
}

TEST(OnlineSweep, BadSweepFilesExitTwoNamingKeyAndLine) {
  struct Case {
    std::string sweep;     // sweep file text (base.yaml exists next to it)
    std::string location;  // expected "sweep.yaml:LINE"
    std::string key;       // expected key in the message
  };
  const Case cases[] = {
      {"base: [base.yaml]\ngrid:\n  train.alpha: [0]\n  train.alphaa: [1]\n", ":4:", "train.alphaa"},
      {"base: [base.yaml]\ngrid:\n  train.alpha: []\n", ":3:", "train.alpha"},
      {"base: [base.yaml]\ngrid:\n  train.alpha: 0.1\n", ":3:", "train.alpha"},
      {"base:\n  - base.yaml\n  - missing.yaml\ngrid:\n  train.alpha: [0]\n", ":3:", "missing.yaml"},
      {"base: [base.yaml]\ngrid:\n  train.alpha:\n    - 0\n    - not-a-number\n", ":5:", "train.alpha"},
      {"base: [base.yaml]\ngrid:\n  train.beta:\n    - 0.1\n    - -1\n", ":5:", "train.beta"},
      {"base: [base.yaml]\noverrides:\n  - online.rounds=3\n  - train.loss=oracle\ngrid:\n  run.seed: [1]\n", ":4:",
       "train.loss"},
      {"base: [base.yaml]\ngrid:\n  run.name: [a, b]\n", ":3:", "run.name"},
      {"base: [base.yaml]\ngrids:\n  run.seed: [1]\n", ":2:", "grids"},
      {"base: [base.yaml]\ngrid:\n  train: [1]\n", ":3:", "train"},
      {"base: [base.yaml]\ngrid:\n  run.seed: [1, 01]\n", ":3:", "same name"},
  };
  for (const Case& c : cases) {
    test::TempDir dir;
    test::write_text(dir / "base.yaml", "run:\n  output_dir: " + (dir / "runs").string() + "\n");
    test::write_text(dir / "sweep.yaml", c.sweep);
    const auto result = test::run_selm({"sweep", "-c", (dir / "sweep.yaml").string(), "--dry-run"});
    EXPECT_EQ(result.exit_code, 2) << c.sweep << result.output;
    EXPECT_TRUE(contains(result.output, (dir / "sweep.yaml").string() + c.location)) << c.sweep << result.output;
    EXPECT_TRUE(contains(result.output, c.key)) << c.sweep << result.output;
    EXPECT_FALSE(fs::exists(dir / "runs")) << "nothing may be written before every config validates\n" << c.sweep;
  }
}

TEST(OnlineSweep, RequiresAMode) {
  test::TempDir dir;
  write_alpha_sweep(dir);
  const auto result = test::run_selm({"sweep", "-c", (dir / "sweep.yaml").string()});
  EXPECT_EQ(result.exit_code, 2) << result.output;
  EXPECT_TRUE(contains(result.output, "--local")) << result.output;
  EXPECT_FALSE(fs::exists(dir / "runs"));
  const auto both = test::run_selm({"sweep", "-c", (dir / "sweep.yaml").string(), "--local", "--slurm"});
  EXPECT_EQ(both.exit_code, 2) << both.output;
}

// A fake `srun` that records its arguments, first on the PATH of the script under test.
fs::path write_fake_srun(const test::TempDir& dir) {
  const fs::path bin = dir / "fake-bin";
  test::write_text(bin / "srun", "#!/bin/sh\nprintf '%s|' \"$@\" > \"$FAKE_SRUN_LOG\"\n");
  fs::permissions(bin / "srun", fs::perms::owner_all);
  return bin;
}

test::CommandResult run_with_env(const std::vector<std::string>& environment, const std::vector<std::string>& command) {
  std::vector<std::string> args = environment;
  args.insert(args.end(), command.begin(), command.end());
  return test::run_program("env", args);
}

TEST(OnlineSweep, SlurmScriptHasOneArrayTaskPerConfig) {
  test::TempDir dir;
  write_alpha_sweep(dir);
  const auto result =
      test::run_selm({"sweep", "-c", (dir / "sweep.yaml").string(), "--slurm", "--executable", "/bin/true"});
  ASSERT_EQ(result.exit_code, 0) << result.output;
  const fs::path script = dir / "runs" / "alpha" / "sweep.sbatch";
  ASSERT_TRUE(fs::exists(script)) << result.output;
  EXPECT_TRUE(fs::is_directory(dir / "runs" / "alpha" / "logs"));
  const std::string text = test::read_text(script);
  const auto syntax = test::run_program("bash", {"-n", script.string()});
  EXPECT_EQ(syntax.exit_code, 0) << syntax.output;
  EXPECT_TRUE(contains(text, "\n#SBATCH --array=0-11\n")) << text;
  EXPECT_TRUE(contains(text, "\n#SBATCH --requeue\n")) << text;
  EXPECT_TRUE(contains(text, "%A_%a")) << text;
  EXPECT_TRUE(contains(text, "SELM=\"${SELM:-/bin/true}\"")) << text;

  // Every array task runs exactly its own config, in run order; a task outside the array fails.
  const fs::path bin = write_fake_srun(dir);
  const std::string path = "PATH=" + bin.string() + ":" + std::getenv("PATH");
  const std::vector<std::string> listed = lines_of(test::read_text(dir / "runs" / "alpha" / "runs.txt"));
  ASSERT_EQ(listed.size(), 12u);
  for (std::size_t task = 0; task < listed.size(); ++task) {
    const fs::path log = dir / ("srun-" + std::to_string(task) + ".log");
    const auto ran = run_with_env({path, "FAKE_SRUN_LOG=" + log.string(), "SLURM_ARRAY_TASK_ID=" + std::to_string(task)},
                                  {"bash", script.string()});
    ASSERT_EQ(ran.exit_code, 0) << ran.output;
    EXPECT_EQ(test::read_text(log), "--kill-on-bad-exit=1|/bin/true|train|-c|" + listed[task] + "|");
  }
  const auto outside = run_with_env({path, "FAKE_SRUN_LOG=" + (dir / "outside.log").string(), "SLURM_ARRAY_TASK_ID=12"},
                                    {"bash", script.string()});
  EXPECT_EQ(outside.exit_code, 2) << outside.output;
  EXPECT_FALSE(fs::exists(dir / "outside.log"));
  // SELM in the environment replaces the default binary.
  const auto overridden = run_with_env(
      {path, "FAKE_SRUN_LOG=" + (dir / "env.log").string(), "SLURM_ARRAY_TASK_ID=0", "SELM=/opt/selm/bin/selm"},
      {"bash", script.string()});
  ASSERT_EQ(overridden.exit_code, 0) << overridden.output;
  EXPECT_EQ(test::read_text(dir / "env.log"), "--kill-on-bad-exit=1|/opt/selm/bin/selm|train|-c|" + listed[0] + "|");
}

// Stand-in for `selm train`: records its arguments and fails (exit 3) the runs with seed 2.
fs::path write_stand_in(const test::TempDir& dir) {
  const fs::path stand_in = dir / "fake-selm.sh";
  test::write_text(stand_in,
                   "#!/bin/sh\n"
                   "echo \"$*\" >> \"" + (dir / "calls.log").string() + "\"\n"
                   "case \"$3\" in *seed=2*) exit 3 ;; esac\n"
                   "exit 0\n");
  fs::permissions(stand_in, fs::perms::owner_all);
  return stand_in;
}

TEST(OnlineSweep, LocalRunsEveryConfigInOrderAndReportsFailures) {
  test::TempDir dir;
  write_alpha_sweep(dir);
  const fs::path stand_in = write_stand_in(dir);
  const auto result =
      test::run_selm({"sweep", "-c", (dir / "sweep.yaml").string(), "--local", "--executable", stand_in.string()});
  EXPECT_EQ(result.exit_code, 1) << result.output;

  const std::vector<std::string> calls = lines_of(test::read_text(dir / "calls.log"));
  ASSERT_EQ(calls.size(), 12u) << "a failed run must not stop the others\n" << result.output;
  const fs::path configs = dir / "runs" / "alpha" / "configs";
  for (std::size_t i = 0; i < calls.size(); ++i) {
    EXPECT_EQ(calls[i], "train -c " + (configs / (kAlphaRunNames[i] + ".yaml")).string());
  }
  EXPECT_TRUE(contains(result.output, "sweep run 3/12: alpha-alpha=0-seed=3\n")) << result.output;
  EXPECT_TRUE(contains(result.output, "sweep run 2/12: alpha-alpha=0-seed=2 failed (exit code 3)")) << result.output;
  EXPECT_TRUE(contains(result.output, "sweep run 1/12: alpha-alpha=0-seed=1 ok in ")) << result.output;
  EXPECT_TRUE(contains(result.output, "sweep alpha: 8 of 12 runs ok")) << result.output;
  EXPECT_TRUE(contains(result.output, "4 of 12 runs failed")) << result.output;
  // Progress lines come in run order.
  std::size_t previous = 0;
  for (std::size_t i = 0; i < kAlphaRunNames.size(); ++i) {
    const std::size_t at = result.output.find("sweep run " + std::to_string(i + 1) + "/12: " + kAlphaRunNames[i]);
    ASSERT_NE(at, std::string::npos) << result.output;
    EXPECT_GE(at, previous);
    previous = at;
  }
}

TEST(OnlineSweep, LocalExitsZeroWhenAllRunsSucceedAndTakesTheExecutableFromTheEnvironment) {
  test::TempDir dir;
  write_alpha_sweep(dir);
  test::write_text(dir / "sweep.yaml",
                   "name: ok\nbase: [base/tiny.yaml]\ngrid:\n  train.alpha: [0, 0.1]\n  run.seed: [1, 3]\n");
  const fs::path stand_in = write_stand_in(dir);
  const auto result = run_with_env({"SELM_SWEEP_EXECUTABLE=" + stand_in.string()},
                                   {SELM_BINARY, "sweep", "-c", (dir / "sweep.yaml").string(), "--local"});
  EXPECT_EQ(result.exit_code, 0) << result.output;
  EXPECT_EQ(lines_of(test::read_text(dir / "calls.log")).size(), 4u);
  EXPECT_TRUE(contains(result.output, "sweep ok: 4 of 4 runs ok")) << result.output;

  // An executable that does not exist is bad input, caught before anything runs.
  const auto missing = test::run_selm({"sweep", "-c", (dir / "sweep.yaml").string(), "--local", "--executable",
                                       (dir / "no-such-binary").string()});
  EXPECT_EQ(missing.exit_code, 2) << missing.output;
  EXPECT_TRUE(contains(missing.output, "--executable")) << missing.output;
  EXPECT_EQ(lines_of(test::read_text(dir / "calls.log")).size(), 4u);
}

TEST(OnlineSweep, LocalJobsRunSideBySideWithPrefixedOutput) {
  test::TempDir dir;
  write_alpha_sweep(dir);
  test::write_text(dir / "sweep.yaml",
                   "name: jobs\nbase: [base/tiny.yaml]\ngrid:\n  run.seed: [1, 2, 3, 4]\n");
  // Each stand-in records its start, then waits (up to 20 s) until two have started before it
  // ends: one at a time, every run would wait the whole 20 s and report "alone".
  const fs::path stand_in = dir / "paired-selm.sh";
  const std::string starts = (dir / "starts.log").string();
  test::write_text(stand_in,
                   "#!/bin/sh\n"
                   "echo start >> \"" + starts + "\"\n"
                   "for i in $(seq 200); do\n"
                   "  [ \"$(wc -l < \"" + starts + "\")\" -ge 2 ] && { echo \"paired threads=$OMP_NUM_THREADS\"; exit 0; }\n"
                   "  sleep 0.1\n"
                   "done\n"
                   "echo alone; exit 4\n");
  fs::permissions(stand_in, fs::perms::owner_all);
  const auto result = run_with_env({"PATH=/usr/bin:/bin"}, {SELM_BINARY, "sweep", "-c", (dir / "sweep.yaml").string(),
                                                            "--local", "--jobs", "2", "--executable", stand_in.string()});
  EXPECT_EQ(result.exit_code, 0) << result.output;
  EXPECT_TRUE(contains(result.output, "sweep jobs: 4 of 4 runs ok")) << result.output;
  for (const char* name : {"jobs-seed=1", "jobs-seed=2", "jobs-seed=3", "jobs-seed=4"}) {
    EXPECT_TRUE(contains(result.output, std::string("[") + name + "] paired threads=")) << result.output;
  }
  EXPECT_FALSE(contains(result.output, "alone")) << result.output;
  // --jobs belongs to --local.
  const auto without_local = test::run_selm({"sweep", "-c", (dir / "sweep.yaml").string(), "--dry-run", "--jobs", "2"});
  EXPECT_EQ(without_local.exit_code, 2) << without_local.output;
}

fs::path source_root() { return test::test_data_dir().parent_path().parent_path(); }

TEST(SlurmScripts, EveryTemplatePassesBashSyntaxCheck) {
  const fs::path folder = source_root() / "scripts" / "slurm";
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(folder)) {
    if (entry.path().extension() != ".sbatch") continue;
    names.push_back(entry.path().filename().string());
    const auto syntax = test::run_program("bash", {"-n", entry.path().string()});
    EXPECT_EQ(syntax.exit_code, 0) << entry.path() << "\n" << syntax.output;
    const std::string text = test::read_text(entry.path());
    EXPECT_EQ(text.rfind("#!/bin/bash\n", 0), 0u) << entry.path();
    EXPECT_TRUE(contains(text, "#SBATCH --partition=")) << entry.path();
    EXPECT_TRUE(contains(text, "#SBATCH --gres=gpu:")) << entry.path();
    EXPECT_TRUE(contains(text, "#SBATCH --time=")) << entry.path();
  }
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"multi_node.sbatch", "single_run.sbatch", "sweep_array.sbatch"}));
  const std::string multi_node = test::read_text(folder / "multi_node.sbatch");
  for (const char* part : {"#SBATCH --nodes=2", "#SBATCH --ntasks-per-node=8", "#SBATCH --signal=USR1@120",
                           "#SBATCH --requeue", "srun --kill-on-bad-exit=1", "scontrol requeue"}) {
    EXPECT_TRUE(contains(multi_node, part)) << part;
  }
  EXPECT_FALSE(contains(multi_node, "SELM_DATA_PARALLEL")) << "the guard of the time before data parallelism";
}

TEST(SlurmScripts, SingleRunAndSweepArrayRunTheExpectedCommand) {
  test::TempDir dir;
  const fs::path bin = write_fake_srun(dir);
  const std::string path = "PATH=" + bin.string() + ":" + std::getenv("PATH");
  const fs::path folder = source_root() / "scripts" / "slurm";

  const auto single = run_with_env({path, "FAKE_SRUN_LOG=" + (dir / "single.log").string(), "SELM=/opt/selm"},
                                   {"bash", (folder / "single_run.sbatch").string(), "my run.yaml", "online.rounds=2"});
  ASSERT_EQ(single.exit_code, 0) << single.output;
  EXPECT_EQ(test::read_text(dir / "single.log"), "/opt/selm|train|-c|my run.yaml|online.rounds=2|");
  const auto no_config = run_with_env({path, "FAKE_SRUN_LOG=" + (dir / "none.log").string(), "SELM=/opt/selm"},
                                      {"bash", (folder / "single_run.sbatch").string()});
  EXPECT_EQ(no_config.exit_code, 2) << no_config.output;

  test::write_text(dir / "runs.txt", "/configs/a.yaml\n/configs/b c.yaml\n\n");
  const auto second = run_with_env(
      {path, "FAKE_SRUN_LOG=" + (dir / "array.log").string(), "SELM=/opt/selm", "SLURM_ARRAY_TASK_ID=1"},
      {"bash", (folder / "sweep_array.sbatch").string(), (dir / "runs.txt").string()});
  ASSERT_EQ(second.exit_code, 0) << second.output;
  EXPECT_EQ(test::read_text(dir / "array.log"), "/opt/selm|train|-c|/configs/b c.yaml|");
  const auto outside = run_with_env(
      {path, "FAKE_SRUN_LOG=" + (dir / "outside.log").string(), "SELM=/opt/selm", "SLURM_ARRAY_TASK_ID=2"},
      {"bash", (folder / "sweep_array.sbatch").string(), (dir / "runs.txt").string()});
  EXPECT_EQ(outside.exit_code, 2) << outside.output;
  EXPECT_FALSE(fs::exists(dir / "outside.log"));
}

// srun's exit code 75 (selm stopped on SIGUSR1/SIGTERM after saving) makes a template requeue
// its job; any other code is passed on without a requeue.
TEST(SlurmScripts, AStoppedRunIsRequeued) {
  test::TempDir dir;
  const fs::path bin = dir / "fake-bin";
  test::write_text(bin / "srun", "#!/bin/sh\nexit \"$FAKE_SRUN_EXIT\"\n");
  test::write_text(bin / "scontrol", "#!/bin/sh\nprintf '%s|' \"$@\" >> \"$FAKE_SCONTROL_LOG\"\n");
  fs::permissions(bin / "srun", fs::perms::owner_all);
  fs::permissions(bin / "scontrol", fs::perms::owner_all);
  const std::string path = "PATH=" + bin.string() + ":" + std::getenv("PATH");
  const fs::path folder = source_root() / "scripts" / "slurm";
  const std::string log = "FAKE_SCONTROL_LOG=" + (dir / "scontrol.log").string();
  for (const char* script : {"multi_node.sbatch", "single_run.sbatch"}) {
    const auto stopped = run_with_env({path, log, "FAKE_SRUN_EXIT=75", "SLURM_JOB_ID=77", "SELM=/opt/selm"},
                                      {"bash", (folder / script).string(), "run.yaml"});
    EXPECT_EQ(stopped.exit_code, 75) << script << stopped.output;
    const auto failed = run_with_env({path, log, "FAKE_SRUN_EXIT=1", "SLURM_JOB_ID=78", "SELM=/opt/selm"},
                                     {"bash", (folder / script).string(), "run.yaml"});
    EXPECT_EQ(failed.exit_code, 1) << script << failed.output;
  }
  EXPECT_EQ(test::read_text(dir / "scontrol.log"), "requeue|77|requeue|77|");
}

TEST(OnlineSweep, SlurmScriptTakesNodesAndGpusPerRun) {
  test::TempDir dir;
  write_alpha_sweep(dir);
  const auto result = test::run_selm({"sweep", "-c", (dir / "sweep.yaml").string(), "--slurm", "--executable",
                                      "/bin/true", "--nodes", "2", "--gpus-per-node", "4"});
  ASSERT_EQ(result.exit_code, 0) << result.output;
  const std::string text = test::read_text(dir / "runs" / "alpha" / "sweep.sbatch");
  EXPECT_TRUE(contains(text, "\n#SBATCH --nodes=2\n")) << text;
  EXPECT_TRUE(contains(text, "\n#SBATCH --ntasks-per-node=4\n")) << text;
  EXPECT_TRUE(contains(text, "\n#SBATCH --gres=gpu:4\n")) << text;
  EXPECT_TRUE(contains(text, "scontrol requeue \"${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID}\"")) << text;
  const auto syntax = test::run_program("bash", {"-n", (dir / "runs" / "alpha" / "sweep.sbatch").string()});
  EXPECT_EQ(syntax.exit_code, 0) << syntax.output;
  const auto bad = test::run_selm({"sweep", "-c", (dir / "sweep.yaml").string(), "--slurm", "--nodes", "0"});
  EXPECT_EQ(bad.exit_code, 2) << bad.output;
}

}  // namespace
}  // namespace selm
