// A clean stop on request: SIGTERM (a scheduler ending or preempting the job; SLURM sends it,
// or SIGUSR1 with `#SBATCH --signal=USR1@120`), SIGUSR1, or SIGINT (Ctrl-C). The first signal
// only sets a flag: training finishes the optimiser step in flight, writes its checkpoint and
// stops; generation and judging stop after the chunk or batch in flight, whose records are
// flushed. The command then exits with kExitStopped, and rerunning it resumes. A second SIGINT or
// SIGTERM ends the process at once, as without the handlers.
#pragma once

#include <stdexcept>
#include <string>

namespace selm {

// EX_TEMPFAIL of sysexits.h: "try again later". The sbatch templates requeue on it.
inline constexpr int kExitStopped = 75;

// Thrown where a stop request is honoured; the command line maps it to kExitStopped.
class StopRequested : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Installs the handlers (idempotent). Commands that honour the flag call it.
void install_stop_signal_handlers();
// Whether a stop signal arrived, and which ("SIGTERM"; "" when none).
bool stop_requested();
std::string stop_signal_name();

}  // namespace selm
