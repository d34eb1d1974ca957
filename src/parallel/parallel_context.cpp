#include "selm/parallel/parallel_context.hpp"

#include <stdexcept>
#include <vector>

namespace selm {

std::string ParallelContext::describe() const {
  return "rank " + std::to_string(rank) + "/" + std::to_string(world_size);
}

void ParallelContext::validate() const {
  if (world_size < 1) throw std::invalid_argument("parallel world_size must be at least 1");
  if (rank < 0 || rank >= world_size) {
    throw std::invalid_argument("parallel rank " + std::to_string(rank) + " is outside 0.." +
                                std::to_string(world_size - 1));
  }
  if (local_world_size < 1 || local_world_size > world_size) {
    throw std::invalid_argument("parallel local_world_size must be in 1..world_size");
  }
  if (local_rank < 0 || local_rank >= local_world_size) {
    throw std::invalid_argument("parallel local_rank " + std::to_string(local_rank) + " is outside 0.." +
                                std::to_string(local_world_size - 1));
  }
  if (communicator && (communicator->rank() != rank || communicator->world_size() != world_size)) {
    throw std::invalid_argument("parallel rank and world_size differ from the process group's");
  }
}

void ParallelContext::barrier(const std::string& stage) const {
  if (communicator) communicator->barrier(stage);
}

std::vector<double> ParallelContext::sum(std::vector<double> values, const std::string& stage) const {
  if (!communicator) return values;
  return communicator->all_reduce_sum(std::move(values), stage);
}

ParallelContext parallel_context_of(std::shared_ptr<Communicator> communicator, int local_rank, int local_world_size) {
  ParallelContext context;
  context.rank = communicator->rank();
  context.world_size = communicator->world_size();
  context.local_rank = local_rank >= 0 ? local_rank : context.rank;
  context.local_world_size = local_world_size >= 1 ? local_world_size : context.world_size;
  context.communicator = std::move(communicator);
  return context;
}

}  // namespace selm
