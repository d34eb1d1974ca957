#include "selm/util/progress.hpp"

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <iostream>
#include <sstream>

namespace selm {

namespace {

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "--:--";
  const long total = static_cast<long>(seconds + 0.5);
  char buffer[32];
  if (total >= 3600) {
    std::snprintf(buffer, sizeof(buffer), "%ld:%02ld:%02ld", total / 3600, (total / 60) % 60, total % 60);
  } else {
    std::snprintf(buffer, sizeof(buffer), "%02ld:%02ld", total / 60, total % 60);
  }
  return buffer;
}

}  // namespace

Progress::Progress(std::string label, std::int64_t total, std::string unit, const ParallelContext& parallel)
    : label_(parallel.is_distributed() ? "[" + parallel.describe() + "] " + label : std::move(label)),
      unit_(std::move(unit)),
      total_(total),
      interactive_(::isatty(STDERR_FILENO) == 1 && parallel.rank == 0),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_) {}

Progress::~Progress() {
  if (!finished_ && done_ > 0) finish();
}

double Progress::elapsed_seconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

void Progress::advance(std::int64_t count, const std::string& status) {
  done_ += count;
  status_ = status;
  const auto now = std::chrono::steady_clock::now();
  const double since_draw = std::chrono::duration<double>(now - last_draw_).count();
  // Redraw a terminal line often; a log file only every 10 s.
  if (since_draw >= (interactive_ ? 0.2 : 10.0)) {
    last_draw_ = now;
    draw(false);
  }
}

void Progress::finish(const std::string& status) {
  if (finished_) return;
  finished_ = true;
  if (!status.empty()) status_ = status;
  draw(true);
}

void Progress::draw(bool final_line) {
  const double elapsed = elapsed_seconds();
  const double rate = elapsed > 0 ? static_cast<double>(done_) / elapsed : 0.0;
  std::ostringstream line;
  line << label_ << " " << done_;
  if (total_ > 0) line << "/" << total_ << " " << unit_ << " (" << (100 * done_ / total_) << "%)";
  else line << " " << unit_;
  char rate_text[64];
  std::snprintf(rate_text, sizeof(rate_text), " %.2f %s/s", rate, unit_.c_str());
  line << rate_text << " elapsed " << format_duration(elapsed);
  if (!final_line && total_ > 0 && rate > 0) {
    line << " ETA " << format_duration(static_cast<double>(total_ - done_) / rate);
  }
  if (!status_.empty()) line << " | " << status_;
  if (interactive_) {
    std::cerr << "\r\033[K" << line.str() << (final_line ? "\n" : "") << std::flush;
  } else {
    std::cerr << line.str() << "\n" << std::flush;
  }
}

}  // namespace selm
