// Leveled logging to stderr and, optionally, a log file (the run directory's log.txt).
//
// The process has one logger (spdlog, kept out of this header): main sets the console level
// (-v/-q or run.log_level), an online run adds its log.txt. Every line reads
//   2026-01-31 12:00:00 [info] message
// with the tags [debug] [info] [warn] [error]; the console shows the lines at or above the
// level, the file gets every line, and each line is flushed as it is written (a crash loses
// nothing). Once a process is one rank of several, its lines also name the rank:
//   2026-01-31 12:00:00 [rank 1] [info] message
// Thread-safe. Never log secrets: API keys are read from the environment at the point of use.
#pragma once

#include <filesystem>
#include <string>

namespace selm::log {

enum class Level { debug = 0, info = 1, warn = 2, error = 3 };

// The console's threshold (info until set).
void set_level(Level level);
// Also append every message to `path` (created if missing). An empty path stops file logging.
// Throws std::runtime_error naming the path when the file cannot be opened.
void set_file(const std::filesystem::path& path);
// This process is rank `rank` of `world_size` (0 <= rank < world_size, else
// std::invalid_argument): with world_size > 1 every line carries "[rank R]"; with 1 (the
// default) lines are untagged.
void set_rank(int rank, int world_size);

void debug(const std::string& message);
void info(const std::string& message);
void warn(const std::string& message);
void error(const std::string& message);

}  // namespace selm::log
