#include "selm/judge/command_judge.hpp"

#include <signal.h>

#include <chrono>
#include <filesystem>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "selm/util/error.hpp"
#include "selm/util/log.hpp"
#include "selm/util/sha256.hpp"

namespace selm {
namespace {

using Clock = std::chrono::steady_clock;

}  // namespace

CommandJudgeReply judgment_from_reply_line(const std::string& reply_line, const JudgeRequest& request) {
  CommandJudgeReply result;
  nlohmann::json reply;
  try {
    reply = nlohmann::json::parse(reply_line);
  } catch (const nlohmann::json::exception&) {
    result.judgment = failed_judgment("judge command replied with invalid JSON: " + reply_line.substr(0, 200));
    return result;
  }
  if (!reply.is_object()) {
    result.judgment = failed_judgment("judge command reply is not a JSON object");
    return result;
  }
  if (!reply.contains("id") || reply["id"] != nlohmann::json(request.id)) {
    result.in_step = false;
    result.judgment = failed_judgment("judge command reply id " + reply.value("id", nlohmann::json()).dump() +
                                      " does not match request '" + request.id + "'");
    return result;
  }
  try {
    if (reply.contains("error")) {
      result.judgment = failed_judgment("judge command reported: " + reply["error"].dump());
    } else if (reply.contains("scores")) {
      const auto scores = reply["scores"].get<std::vector<double>>();
      if (scores.size() != request.candidates.size()) {
        result.judgment = failed_judgment("judge command gave " + std::to_string(scores.size()) + " scores for " +
                                          std::to_string(request.candidates.size()) + " candidates");
      } else {
        result.judgment = judgment_from_scores(scores);
      }
    } else if (reply.contains("ranking")) {
      result.judgment =
          judgment_from_order(reply["ranking"].get<std::vector<std::int64_t>>(), request.candidates.size());
    } else {
      result.judgment = failed_judgment("judge command reply has none of scores, ranking or error");
    }
  } catch (const std::exception& e) {
    result.judgment = failed_judgment(std::string("judge command reply is malformed: ") + e.what());
  }
  return result;
}

CommandJudge::CommandJudge(const CommandJudgeConfig& config) : config_(config), restarts_left_(config.max_restarts) {
  if (config_.argv.empty()) throw InputError("key 'judge.command.argv': the command judge needs a program to run");
  config_hash_ = sha256_hex(nlohmann::json({{"type", "command"}, {"argv", config_.argv}}).dump()).substr(0, 16);
  start();
}

CommandJudge::~CommandJudge() { stop(false); }

std::string CommandJudge::id() const {
  // `python3 judge.py --flag`: the script names the judge better than the interpreter.
  const std::string& named = config_.argv.size() > 1 && config_.argv[1].rfind('-', 0) != 0 ? config_.argv[1] : config_.argv[0];
  return "command:" + std::filesystem::path(named).filename().string();
}

void CommandJudge::start() {
  SubprocessOptions options;
  options.search_path = true;
  options.pipe_stdin = true;
  options.pipe_stdout = true;
  options.pipe_stderr = true;
  try {
    process_.emplace(config_.argv, options);
  } catch (const SubprocessError& error) {
    if (error.stage() == SubprocessError::Stage::exec) {
      throw InputError(std::string("key 'judge.command.argv': ") + error.what());
    }
    throw std::runtime_error(std::string("command judge: ") + error.what());
  }
  const std::string label = id() + " [pid " + std::to_string(process_->pid()) + "]";
  process_->forward_stderr_lines([label](const std::string& line) { log::info(label + ": " + line); });
  log::debug(id() + ": started pid " + std::to_string(process_->pid()));
}

void CommandJudge::stop(bool kill_now) {
  if (!process_) return;
  process_->close_stdin();  // EOF on its stdin: a well-behaved judge exits
  if (kill_now) process_->send_signal(SIGKILL);
  const pid_t pid = process_->pid();
  const int status = process_->wait_or_kill(std::chrono::seconds(2));
  log::debug(id() + ": pid " + std::to_string(pid) + " " + describe_wait_status(status));
  process_.reset();  // closes its stdout and joins the stderr forwarder
}

PipeStatus CommandJudge::exchange(const std::string& request_line, std::string& reply_line) {
  const auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                           std::chrono::duration<double>(config_.timeout_seconds));
  const PipeStatus sent = process_->write_all(request_line, deadline);
  if (sent != PipeStatus::done) return sent;
  return process_->read_line(reply_line, deadline);
}

Judgment CommandJudge::judge_one(const JudgeRequest& request) {
  const nlohmann::json message = {{"id", request.id}, {"prompt", request.prompt}, {"candidates", request.candidates}};
  const std::string line = message.dump() + "\n";
  // A crash mid-request gets one more try on a fresh process; a timeout does not (it would
  // only double the wait).
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (!process_) {
      if (given_up_ || restarts_left_ <= 0) {
        given_up_ = true;
        return failed_judgment("judge command gave up: it crashed or timed out more often than " +
                               std::to_string(config_.max_restarts) + " restarts allow");
      }
      --restarts_left_;
      record_restart();
      try {
        start();
      } catch (const std::exception& e) {
        given_up_ = true;
        return failed_judgment(std::string("judge command could not be restarted: ") + e.what());
      }
    }
    const auto start_time = Clock::now();
    std::string reply_line;
    const PipeStatus outcome = exchange(line, reply_line);
    const double latency = std::chrono::duration<double>(Clock::now() - start_time).count();
    record_request(attempt > 0, outcome == PipeStatus::done, latency);
    if (outcome == PipeStatus::timed_out) {
      stop(/*kill_now=*/true);
      return failed_judgment("judge command did not answer within " + std::to_string(config_.timeout_seconds) +
                             " s (judge.command.timeout_seconds); the process was killed");
    }
    if (outcome == PipeStatus::closed) {
      const pid_t crashed_pid = process_->pid();
      stop(/*kill_now=*/false);
      log::warn(id() + ": pid " + std::to_string(crashed_pid) + " ended while judging '" + request.id + "'");
      continue;
    }
    CommandJudgeReply reply = judgment_from_reply_line(reply_line, request);
    if (!reply.in_step) stop(/*kill_now=*/true);  // out of step with us: a fresh process resynchronises
    return std::move(reply.judgment);
  }
  return failed_judgment("judge command crashed twice on this request");
}

std::vector<Judgment> CommandJudge::rank_batch(const std::vector<JudgeRequest>& batch) {
  std::vector<Judgment> judgments;
  judgments.reserve(batch.size());
  for (const auto& request : batch) judgments.push_back(judge_one(request));
  return judgments;
}

}  // namespace selm
