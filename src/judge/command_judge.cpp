#include "selm/judge/command_judge.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "selm/judge/content_hash.hpp"
#include "selm/util/error.hpp"
#include "selm/util/log.hpp"

namespace selm {
namespace {

using Clock = std::chrono::steady_clock;

void close_fd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

int remaining_ms(Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left <= 0 ? 0 : static_cast<int>(left);
}

std::string describe_exit(int status) {
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return "killed by signal " + std::to_string(WTERMSIG(status));
  return "stopped";
}

// Reads the child's stderr until it closes and logs it line by line.
void forward_stderr(int fd, std::string label) {
  std::string pending;
  char chunk[4096];
  while (true) {
    const ssize_t got = ::read(fd, chunk, sizeof chunk);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;
    pending.append(chunk, static_cast<std::size_t>(got));
    for (std::size_t end = pending.find('\n'); end != std::string::npos; end = pending.find('\n')) {
      log::info(label + ": " + pending.substr(0, end));
      pending.erase(0, end + 1);
    }
  }
  if (!pending.empty()) log::info(label + ": " + pending);
  ::close(fd);
}

}  // namespace

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
  int stdin_pair[2] = {-1, -1};
  int stdout_pipe[2] = {-1, -1};
  int stderr_pipe[2] = {-1, -1};
  int exec_error_pipe[2] = {-1, -1};
  // stdin is a socket so that writing to a dead child gives EPIPE (MSG_NOSIGNAL), not SIGPIPE.
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, stdin_pair) != 0 || ::pipe2(stdout_pipe, O_CLOEXEC) != 0 ||
      ::pipe2(stderr_pipe, O_CLOEXEC) != 0 || ::pipe2(exec_error_pipe, O_CLOEXEC) != 0) {
    const std::string error = std::strerror(errno);
    for (int* fds : {stdin_pair, stdout_pipe, stderr_pipe, exec_error_pipe}) {
      close_fd(fds[0]);
      close_fd(fds[1]);
    }
    throw std::runtime_error("command judge: cannot create pipes: " + error);
  }
  std::vector<char*> argv;
  for (const auto& argument : config_.argv) argv.push_back(const_cast<char*>(argument.c_str()));
  argv.push_back(nullptr);

  const pid_t pid = ::fork();
  if (pid == 0) {
    // Child: only async-signal-safe calls until exec. dup2 clears close-on-exec on 0, 1, 2.
    ::dup2(stdin_pair[1], 0);
    ::dup2(stdout_pipe[1], 1);
    ::dup2(stderr_pipe[1], 2);
    ::execvp(argv[0], argv.data());
    const int error = errno;
    (void)!::write(exec_error_pipe[1], &error, sizeof error);
    ::_exit(127);
  }
  const int fork_error = errno;
  close_fd(stdin_pair[1]);
  close_fd(stdout_pipe[1]);
  close_fd(stderr_pipe[1]);
  close_fd(exec_error_pipe[1]);
  if (pid < 0) {
    close_fd(stdin_pair[0]);
    close_fd(stdout_pipe[0]);
    close_fd(stderr_pipe[0]);
    close_fd(exec_error_pipe[0]);
    throw std::runtime_error(std::string("command judge: fork failed: ") + std::strerror(fork_error));
  }
  int exec_error = 0;
  ssize_t got = 0;
  do {
    got = ::read(exec_error_pipe[0], &exec_error, sizeof exec_error);
  } while (got < 0 && errno == EINTR);
  close_fd(exec_error_pipe[0]);
  if (got == static_cast<ssize_t>(sizeof exec_error)) {
    int status = 0;
    ::waitpid(pid, &status, 0);
    close_fd(stdin_pair[0]);
    close_fd(stdout_pipe[0]);
    close_fd(stderr_pipe[0]);
    throw InputError("key 'judge.command.argv': cannot run '" + config_.argv[0] + "': " + std::strerror(exec_error));
  }
  pid_ = pid;
  stdin_fd_ = stdin_pair[0];
  stdout_fd_ = stdout_pipe[0];
  ::fcntl(stdin_fd_, F_SETFL, ::fcntl(stdin_fd_, F_GETFL) | O_NONBLOCK);
  stdout_buffer_.clear();
  stderr_forwarder_ = std::thread(forward_stderr, stderr_pipe[0], id() + " [pid " + std::to_string(pid) + "]");
  log::debug(id() + ": started pid " + std::to_string(pid));
}

void CommandJudge::stop(bool kill_now) {
  if (pid_ < 0) return;
  close_fd(stdin_fd_);  // EOF on its stdin: a well-behaved judge exits
  if (kill_now) ::kill(pid_, SIGKILL);
  int status = 0;
  const auto deadline = Clock::now() + std::chrono::seconds(2);
  pid_t reaped = 0;
  while ((reaped = ::waitpid(pid_, &status, WNOHANG)) == 0 && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  if (reaped == 0) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, &status, 0);
  }
  log::debug(id() + ": pid " + std::to_string(pid_) + " " + describe_exit(status));
  pid_ = -1;
  close_fd(stdout_fd_);
  if (stderr_forwarder_.joinable()) stderr_forwarder_.join();
  stdout_buffer_.clear();
}

CommandJudge::Exchange CommandJudge::exchange(const std::string& request_line, std::string& reply_line) {
  const auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                           std::chrono::duration<double>(config_.timeout_seconds));
  std::size_t sent = 0;
  while (sent < request_line.size()) {
    const ssize_t wrote = ::send(stdin_fd_, request_line.data() + sent, request_line.size() - sent, MSG_NOSIGNAL);
    if (wrote > 0) {
      sent += static_cast<std::size_t>(wrote);
      continue;
    }
    if (wrote < 0 && errno == EINTR) continue;
    if (wrote < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      pollfd writable{stdin_fd_, POLLOUT, 0};
      const int ready = ::poll(&writable, 1, remaining_ms(deadline));
      if (ready == 0) return Exchange::timed_out;
      continue;
    }
    return Exchange::crashed;  // EPIPE / ECONNRESET: the process is gone
  }
  while (true) {
    const std::size_t end = stdout_buffer_.find('\n');
    if (end != std::string::npos) {
      reply_line = stdout_buffer_.substr(0, end);
      stdout_buffer_.erase(0, end + 1);
      return Exchange::answered;
    }
    pollfd readable{stdout_fd_, POLLIN, 0};
    const int ready = ::poll(&readable, 1, remaining_ms(deadline));
    if (ready < 0 && errno == EINTR) continue;
    if (ready == 0) return Exchange::timed_out;
    char chunk[65536];
    const ssize_t got = ::read(stdout_fd_, chunk, sizeof chunk);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return Exchange::crashed;  // EOF: the process exited
    stdout_buffer_.append(chunk, static_cast<std::size_t>(got));
  }
}

Judgment CommandJudge::judge_one(const JudgeRequest& request) {
  const nlohmann::json message = {{"id", request.id}, {"prompt", request.prompt}, {"candidates", request.candidates}};
  const std::string line = message.dump() + "\n";
  // A crash mid-request gets one more try on a fresh process; a timeout does not (it would
  // only double the wait).
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (pid_ < 0) {
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
    const Exchange outcome = exchange(line, reply_line);
    const double latency = std::chrono::duration<double>(Clock::now() - start_time).count();
    record_request(attempt > 0, outcome == Exchange::answered, latency);
    if (outcome == Exchange::timed_out) {
      stop(/*kill_now=*/true);
      return failed_judgment("judge command did not answer within " + std::to_string(config_.timeout_seconds) +
                             " s (judge.command.timeout_seconds); the process was killed");
    }
    if (outcome == Exchange::crashed) {
      const pid_t crashed_pid = pid_;
      stop(/*kill_now=*/false);
      log::warn(id() + ": pid " + std::to_string(crashed_pid) + " ended while judging '" + request.id + "'");
      continue;
    }
    nlohmann::json reply;
    try {
      reply = nlohmann::json::parse(reply_line);
    } catch (const nlohmann::json::exception&) {
      return failed_judgment("judge command replied with invalid JSON: " + reply_line.substr(0, 200));
    }
    if (!reply.is_object()) return failed_judgment("judge command reply is not a JSON object");
    if (!reply.contains("id") || reply["id"] != nlohmann::json(request.id)) {
      stop(/*kill_now=*/true);  // out of step with us: a fresh process resynchronises
      return failed_judgment("judge command reply id " + reply.value("id", nlohmann::json()).dump() +
                             " does not match request '" + request.id + "'");
    }
    try {
      if (reply.contains("error")) {
        return failed_judgment("judge command reported: " + reply["error"].dump());
      }
      if (reply.contains("scores")) {
        const auto scores = reply["scores"].get<std::vector<double>>();
        if (scores.size() != request.candidates.size()) {
          return failed_judgment("judge command gave " + std::to_string(scores.size()) + " scores for " +
                                 std::to_string(request.candidates.size()) + " candidates");
        }
        return judgment_from_scores(scores);
      }
      if (reply.contains("ranking")) {
        return judgment_from_order(reply["ranking"].get<std::vector<std::int64_t>>(), request.candidates.size());
      }
    } catch (const std::exception& e) {
      return failed_judgment(std::string("judge command reply is malformed: ") + e.what());
    }
    return failed_judgment("judge command reply has none of scores, ranking or error");
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
