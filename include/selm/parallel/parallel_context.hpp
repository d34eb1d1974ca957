// Which process of a data-parallel job this is (DESIGN.md "Scale": one process per device).
//
// Passed down in the options of every stage that is sharded (generation, judging, reference
// scoring, training, the online run), never read from a global. World size 1, the default, is a
// single process with no process group: everything runs as it always has.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "selm/parallel/communicator.hpp"

namespace selm {

struct ParallelContext {
  int rank = 0;              // global rank, 0 .. world_size - 1
  int world_size = 1;        // processes in the job
  int local_rank = 0;        // rank among the processes of this node (picks the device)
  int local_world_size = 1;  // processes on this node
  // The job's process group; null for world size 1 (and in tests of who writes what).
  std::shared_ptr<Communicator> communicator;

  bool is_distributed() const { return world_size > 1; }
  // Rank 0 is the only process that writes artifacts the whole job shares (see
  // parallel/shared_artifacts.hpp).
  bool writes_shared_artifacts() const { return rank == 0; }
  // "rank R/N", for log lines and progress displays of a multi-process job.
  std::string describe() const;
  // Rank and sizes are consistent (0 <= rank < world_size, and the same for the node, and the
  // communicator's when there is one); std::invalid_argument naming the field otherwise.
  void validate() const;

  // Returns once every rank has reached it; nothing to wait for with one process.
  void barrier(const std::string& stage) const;
  // Sums over the ranks (the values themselves with one process).
  std::vector<double> sum(std::vector<double> values, const std::string& stage) const;

  // Whether item `index` of a stage sharded by index belongs to this rank: items are dealt out
  // in turn (index mod world_size), so that every rank gets a similar mix of lengths.
  bool owns(std::int64_t index) const { return index % world_size == rank; }
};

// The context of rank `communicator->rank()` of a group (tests, benchmarks, the command line).
ParallelContext parallel_context_of(std::shared_ptr<Communicator> communicator, int local_rank = -1,
                                    int local_world_size = -1);

}  // namespace selm
