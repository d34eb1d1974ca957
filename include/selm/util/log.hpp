// Minimal leveled logging to stderr and, optionally, a log file (the run directory's log.txt).
// Thread-safe. Never log secrets: API keys are read from the environment at the point of use.
#pragma once

#include <filesystem>
#include <string>

namespace selm::log {

enum class Level { debug = 0, info = 1, warn = 2, error = 3 };

void set_level(Level level);
// Also append every message to `path` (created if missing). An empty path stops file logging.
void set_file(const std::filesystem::path& path);

void debug(const std::string& message);
void info(const std::string& message);
void warn(const std::string& message);
void error(const std::string& message);

}  // namespace selm::log
