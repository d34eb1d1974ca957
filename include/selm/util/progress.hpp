// Progress display for long work: done/total, rate, ETA and a caller-supplied status text.
// On a terminal it redraws one line on stderr; otherwise (SLURM logs, CI) it prints a plain
// line at most every few seconds so that log files stay readable. In a multi-process job every
// line names its rank, and only rank 0 redraws a terminal line (the others print plain lines).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "selm/parallel/parallel_context.hpp"

namespace selm {

class Progress {
 public:
  // `unit` names what is counted ("prompts", "steps").
  Progress(std::string label, std::int64_t total, std::string unit, const ParallelContext& parallel = {});
  ~Progress();

  // Adds `count` finished units; `status` is extra text such as "312 tok/s".
  void advance(std::int64_t count = 1, const std::string& status = "");
  // Prints the final line (once).
  void finish(const std::string& status = "");

  double elapsed_seconds() const;

 private:
  void draw(bool final_line);

  std::string label_;
  std::string unit_;
  std::int64_t total_;
  std::int64_t done_ = 0;
  std::string status_;
  bool finished_ = false;
  bool interactive_;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_draw_;
};

}  // namespace selm
