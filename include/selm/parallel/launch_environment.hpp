// Where a process of a data-parallel job learns its place: the environment its launcher set.
//
// Two conventions are read, in this order:
//   torchrun / `selm launch`:  RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR,
//                              MASTER_PORT
//   SLURM's srun:              SLURM_PROCID, SLURM_NTASKS, SLURM_LOCALID,
//                              SLURM_NTASKS_PER_NODE (or SLURM_TASKS_PER_NODE), and the first
//                              host of SLURM_JOB_NODELIST (e.g. "node[01-04,07]" -> "node01")
//                              as the master unless MASTER_ADDR is set; MASTER_PORT, or a port
//                              derived from SLURM_JOB_ID.
// With neither, or with a world size of 1, the process runs alone and needs no process group.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace selm {

struct LaunchEnvironment {
  int rank = 0;
  int world_size = 1;
  int local_rank = 0;
  int local_world_size = 1;
  std::string master_addr = "127.0.0.1";
  int master_port = 29500;
  std::string source = "single process";  // "torchrun environment", "SLURM environment"
};

// Reads a variable; nullopt when unset. Tests pass their own.
using EnvironmentLookup = std::function<std::optional<std::string>(const std::string& name)>;
std::optional<std::string> process_environment(const std::string& name);

// The launch environment. A variable that is set but malformed (not an integer, a rank outside
// the world, a node list that does not parse) is an InputError naming the variable.
LaunchEnvironment read_launch_environment(const EnvironmentLookup& lookup = process_environment);

// The host names of a SLURM node list, in order: "a,b[1-3,7],c0[08-10]" -> a, b1, b2, b3, b7,
// c008, c009, c010 (zero padding is kept). InputError for a list that does not parse.
std::vector<std::string> expand_slurm_nodelist(const std::string& nodelist);

// The port a SLURM job uses when MASTER_PORT is unset: 20000 + job id mod 20000, so that two
// jobs on one node do not collide.
int slurm_default_master_port(std::int64_t job_id);

}  // namespace selm
