// The launch environment of a data-parallel job: torchrun's variables, SLURM's, node lists.
#include <gtest/gtest.h>

#include <map>

#include "selm/parallel/launch_environment.hpp"
#include "selm/util/error.hpp"
#include "support/test_support.hpp"

namespace selm {
namespace SELM_UNITY_ID {

EnvironmentLookup variables(std::map<std::string, std::string> values) {
  return [values](const std::string& name) -> std::optional<std::string> {
    const auto found = values.find(name);
    if (found == values.end()) return std::nullopt;
    return found->second;
  };
}

TEST(ParallelLaunchEnvironment, NoVariablesIsOneProcess) {
  const LaunchEnvironment env = read_launch_environment(variables({}));
  EXPECT_EQ(env.world_size, 1);
  EXPECT_EQ(env.rank, 0);
  EXPECT_EQ(env.source, "single process");
}

TEST(ParallelLaunchEnvironment, TorchrunVariables) {
  const LaunchEnvironment env = read_launch_environment(variables({{"RANK", "5"},
                                                                   {"WORLD_SIZE", "8"},
                                                                   {"LOCAL_RANK", "1"},
                                                                   {"LOCAL_WORLD_SIZE", "4"},
                                                                   {"MASTER_ADDR", "node07"},
                                                                   {"MASTER_PORT", "29600"}}));
  EXPECT_EQ(env.rank, 5);
  EXPECT_EQ(env.world_size, 8);
  EXPECT_EQ(env.local_rank, 1);
  EXPECT_EQ(env.local_world_size, 4);
  EXPECT_EQ(env.master_addr, "node07");
  EXPECT_EQ(env.master_port, 29600);
  EXPECT_EQ(env.source, "torchrun environment");
}

TEST(ParallelLaunchEnvironment, SlurmVariablesWithTheFirstNodeAsMaster) {
  const LaunchEnvironment env = read_launch_environment(variables({{"SLURM_PROCID", "6"},
                                                                   {"SLURM_NTASKS", "8"},
                                                                   {"SLURM_LOCALID", "2"},
                                                                   {"SLURM_NODEID", "1"},
                                                                   {"SLURM_TASKS_PER_NODE", "4(x2)"},
                                                                   {"SLURM_JOB_NODELIST", "gpu[03-04,07],cpu1"},
                                                                   {"SLURM_JOB_ID", "123456"}}));
  EXPECT_EQ(env.rank, 6);
  EXPECT_EQ(env.world_size, 8);
  EXPECT_EQ(env.local_rank, 2);
  EXPECT_EQ(env.local_world_size, 4);
  EXPECT_EQ(env.master_addr, "gpu03");
  EXPECT_EQ(env.master_port, 20000 + 123456 % 20000);
  EXPECT_EQ(env.source, "SLURM environment");
}

TEST(ParallelLaunchEnvironment, TorchrunVariablesWinOverSlurms) {
  // torchrun started inside a SLURM allocation: its own variables describe the job.
  const LaunchEnvironment env = read_launch_environment(
      variables({{"RANK", "1"}, {"WORLD_SIZE", "2"}, {"SLURM_PROCID", "0"}, {"SLURM_NTASKS", "1"}}));
  EXPECT_EQ(env.rank, 1);
  EXPECT_EQ(env.world_size, 2);
}

TEST(ParallelLaunchEnvironment, ExpandsSlurmNodeLists) {
  EXPECT_EQ(expand_slurm_nodelist("node01"), (std::vector<std::string>{"node01"}));
  EXPECT_EQ(expand_slurm_nodelist("node[01-04,07]"),
            (std::vector<std::string>{"node01", "node02", "node03", "node04", "node07"}));
  EXPECT_EQ(expand_slurm_nodelist("a,b[1-3],c0[08-10]"),
            (std::vector<std::string>{"a", "b1", "b2", "b3", "c008", "c009", "c010"}));
  EXPECT_EQ(expand_slurm_nodelist("r[1-2]n[5,7]"), (std::vector<std::string>{"r1n5", "r1n7", "r2n5", "r2n7"}));
}

TEST(ParallelLaunchEnvironment, MalformedValuesNameTheVariable) {
  EXPECT_NE(test::input_error_of([] { read_launch_environment(variables({{"WORLD_SIZE", "two"}})); })
                .find("WORLD_SIZE='two'"),
            std::string::npos);
  EXPECT_NE(test::input_error_of([] { read_launch_environment(variables({{"WORLD_SIZE", "2"}, {"RANK", "2"}})); })
                .find("RANK=2: must be in 0..1"),
            std::string::npos);
  EXPECT_NE(test::input_error_of([] {
              read_launch_environment(variables({{"RANK", "0"}, {"WORLD_SIZE", "2"}, {"MASTER_PORT", "70000"}}));
            }).find("MASTER_PORT"),
            std::string::npos);
  EXPECT_NE(test::input_error_of([] { expand_slurm_nodelist("node[01-04"); }).find("unbalanced"), std::string::npos);
  EXPECT_NE(test::input_error_of([] { expand_slurm_nodelist("node[4-1]"); }).find("empty or too large"),
            std::string::npos);
  EXPECT_NE(test::input_error_of([] { expand_slurm_nodelist("node[a-b]"); }).find("not a number"), std::string::npos);
}

TEST(SelmLaunch, BadInputIsExitTwoAndARankCodeIsPassedOn) {
  const auto no_program = test::run_selm({"launch", "--nproc", "2", "--", "/no/such/program"});
  EXPECT_EQ(no_program.exit_code, 2) << no_program.output;
  EXPECT_NE(no_program.output.find("cannot run '/no/such/program'"), std::string::npos) << no_program.output;
  EXPECT_EQ(test::run_selm({"launch", "--nproc", "0", "--", "/bin/true"}).exit_code, 2);
  EXPECT_EQ(test::run_selm({"launch", "--nproc", "2"}).exit_code, 2);
  // Each rank sees its own variables; a failing rank's exit code becomes launch's.
  const auto ranks = test::run_selm({"launch", "--nproc", "2", "--", "/bin/sh", "-c",
                                     "echo rank $RANK of $WORLD_SIZE local $LOCAL_RANK; if [ $RANK = 1 ]; then sleep 0.5; fi; exit $((RANK * 3))"});
  EXPECT_EQ(ranks.exit_code, 3) << ranks.output;
  EXPECT_NE(ranks.output.find("[rank 0] rank 0 of 2 local 0"), std::string::npos) << ranks.output;
  EXPECT_NE(ranks.output.find("[rank 1] rank 1 of 2 local 1"), std::string::npos) << ranks.output;
  EXPECT_NE(ranks.output.find("selm launch: rank 1 exited with status 3"), std::string::npos) << ranks.output;
}

}  // namespace SELM_UNITY_ID
}  // namespace selm
