// Which process of a data-parallel job this is (DESIGN.md "Scale": one process per device).
//
// Passed down in the options of every stage that will be sharded (generation, judging,
// reference scoring, training, the online run), never read from a global. World size 1, the
// default, is a single process with no process group: everything runs as it always has.
#pragma once

#include <string>

namespace selm {

struct ParallelContext {
  int rank = 0;              // global rank, 0 .. world_size - 1
  int world_size = 1;        // processes in the job
  int local_rank = 0;        // rank among the processes of this node (picks the device)
  int local_world_size = 1;  // processes on this node

  bool is_distributed() const { return world_size > 1; }
  // Rank 0 is the only process that writes artifacts the whole job shares (see
  // parallel/shared_artifacts.hpp).
  bool writes_shared_artifacts() const { return rank == 0; }
  // "rank R/N", for log lines and progress displays of a multi-process job.
  std::string describe() const;
  // Rank and sizes are consistent (0 <= rank < world_size, and the same for the node);
  // std::invalid_argument naming the field otherwise.
  void validate() const;
};

}  // namespace selm
