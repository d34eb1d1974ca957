#include "selm/parallel/parallel_context.hpp"

#include <stdexcept>

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
}

}  // namespace selm
