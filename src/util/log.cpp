#include "selm/util/log.hpp"

#include <memory>
#include <mutex>
#include <stdexcept>
#include <string_view>

#include <spdlog/logger.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/dist_sink.h>
#include <spdlog/sinks/stdout_sinks.h>

namespace selm::log {

namespace {

spdlog::level::level_enum spdlog_level(Level level) {
  switch (level) {
    case Level::debug: return spdlog::level::debug;
    case Level::info: return spdlog::level::info;
    case Level::warn: return spdlog::level::warn;
    case Level::error: return spdlog::level::err;
  }
  return spdlog::level::info;
}

// The pattern flag %* writes selm's own level tags: spdlog's names would turn [warn] into
// [warning] and so change every log that tools and people already read.
class LevelTagFlag : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& message, const std::tm& /*time*/,
              spdlog::memory_buf_t& destination) override {
    const std::string_view tag = tag_of(message.level);
    destination.append(tag.data(), tag.data() + tag.size());
  }

  std::unique_ptr<custom_flag_formatter> clone() const override { return std::make_unique<LevelTagFlag>(); }

 private:
  static std::string_view tag_of(spdlog::level::level_enum level) {
    switch (level) {
      case spdlog::level::debug: return "[debug]";
      case spdlog::level::info: return "[info]";
      case spdlog::level::warn: return "[warn]";
      case spdlog::level::err: return "[error]";
      default: return "[other]";  // trace and critical: never logged through this facade
    }
  }
};

// "YYYY-MM-DD HH:MM:SS [info] message" in local time, with "[rank R] " after the time stamp
// when `rank_tag` is non-empty.
std::unique_ptr<spdlog::formatter> make_formatter(const std::string& rank_tag) {
  auto formatter = std::make_unique<spdlog::pattern_formatter>();
  formatter->add_flag<LevelTagFlag>('*').set_pattern("%Y-%m-%d %H:%M:%S " + rank_tag + "%* %v");
  return formatter;
}

// The one logger. Its sinks hang off a distributing sink, whose own mutex lets the file sink
// come and go while other threads log.
class ProcessLogger {
 public:
  ProcessLogger()
      : console_(std::make_shared<spdlog::sinks::stderr_sink_mt>()),
        sinks_(std::make_shared<spdlog::sinks::dist_sink_mt>()),
        logger_("selm", sinks_) {
    console_->set_level(spdlog_level(Level::info));
    sinks_->add_sink(console_);
    sinks_->set_formatter(make_formatter(rank_tag_));
    // Every line reaches the sinks (the file takes all levels) and is flushed at once.
    logger_.set_level(spdlog::level::trace);
    logger_.flush_on(spdlog::level::trace);
  }

  void write(Level level, const std::string& message) {
    // A string_view, never a format string: braces in messages are printed as they are.
    logger_.log(spdlog_level(level), spdlog::string_view_t(message.data(), message.size()));
  }

  void set_console_level(Level level) { console_->set_level(spdlog_level(level)); }

  void set_file(const std::filesystem::path& path) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (file_) {
      sinks_->remove_sink(file_);
      file_.reset();
    }
    if (path.empty()) return;
    try {
      file_ = std::make_shared<spdlog::sinks::basic_file_sink_mt>(path.string(), /*truncate=*/false);
    } catch (const spdlog::spdlog_ex& e) {
      throw std::runtime_error(path.string() + ": cannot open the log file: " + e.what());
    }
    file_->set_formatter(make_formatter(rank_tag_));
    sinks_->add_sink(file_);
  }

  void set_rank(int rank, int world_size) {
    if (world_size < 1 || rank < 0 || rank >= world_size) {
      throw std::invalid_argument("log::set_rank: rank " + std::to_string(rank) + " of world size " +
                                  std::to_string(world_size) + " is out of range");
    }
    std::lock_guard<std::mutex> lock(mutex_);
    rank_tag_ = world_size > 1 ? "[rank " + std::to_string(rank) + "] " : "";
    sinks_->set_formatter(make_formatter(rank_tag_));  // every sink gets its own copy
  }

 private:
  std::mutex mutex_;      // orders the changes of file_ and rank_tag_
  std::string rank_tag_;  // "" or "[rank R] "
  std::shared_ptr<spdlog::sinks::stderr_sink_mt> console_;
  std::shared_ptr<spdlog::sinks::basic_file_sink_mt> file_;  // null without a log file
  std::shared_ptr<spdlog::sinks::dist_sink_mt> sinks_;
  spdlog::logger logger_;
};

ProcessLogger& process_logger() {
  static ProcessLogger instance;
  return instance;
}

}  // namespace

void set_level(Level level) { process_logger().set_console_level(level); }
void set_file(const std::filesystem::path& path) { process_logger().set_file(path); }
void set_rank(int rank, int world_size) { process_logger().set_rank(rank, world_size); }

void debug(const std::string& message) { process_logger().write(Level::debug, message); }
void info(const std::string& message) { process_logger().write(Level::info, message); }
void warn(const std::string& message) { process_logger().write(Level::warn, message); }
void error(const std::string& message) { process_logger().write(Level::error, message); }

}  // namespace selm::log
