#include "selm/util/log.hpp"

#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <iostream>
#include <mutex>

namespace selm::log {

namespace {

struct Sink {
  std::mutex mutex;
  Level level = Level::info;
  std::ofstream file;
};

Sink& sink() {
  static Sink instance;
  return instance;
}

std::string timestamp() {
  const auto now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm parts{};
  localtime_r(&now, &parts);
  char buffer[32];
  std::strftime(buffer, sizeof(buffer), "%Y-%m-%d %H:%M:%S", &parts);
  return buffer;
}

void emit(Level level, const char* tag, const std::string& message) {
  Sink& s = sink();
  std::lock_guard<std::mutex> lock(s.mutex);
  const std::string line = timestamp() + " " + tag + " " + message + "\n";
  if (level >= s.level) {
    std::cerr << line;
    std::cerr.flush();
  }
  if (s.file.is_open()) {
    s.file << line;
    s.file.flush();
  }
}

}  // namespace

void set_level(Level level) {
  std::lock_guard<std::mutex> lock(sink().mutex);
  sink().level = level;
}

void set_file(const std::filesystem::path& path) {
  std::lock_guard<std::mutex> lock(sink().mutex);
  Sink& s = sink();
  if (s.file.is_open()) s.file.close();
  if (!path.empty()) s.file.open(path, std::ios::app);
}

void debug(const std::string& message) { emit(Level::debug, "[debug]", message); }
void info(const std::string& message) { emit(Level::info, "[info]", message); }
void warn(const std::string& message) { emit(Level::warn, "[warn]", message); }
void error(const std::string& message) { emit(Level::error, "[error]", message); }

}  // namespace selm::log
