#include "selm/util/subprocess.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <utility>

namespace selm {

namespace {

void close_fd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

int remaining_ms(Subprocess::Clock::time_point deadline) {
  const auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Subprocess::Clock::now()).count();
  return left <= 0 ? 0 : static_cast<int>(left);
}

std::string stage_message(SubprocessError::Stage stage, int error_number, const std::string& program) {
  const std::string reason = std::strerror(error_number);
  switch (stage) {
    case SubprocessError::Stage::pipes: return "cannot create pipes: " + reason;
    case SubprocessError::Stage::fork: return "fork failed: " + reason;
    case SubprocessError::Stage::exec: return "cannot run '" + program + "': " + reason;
    case SubprocessError::Stage::wait: return "waitpid failed: " + reason;
  }
  return reason;
}

// Reads `fd` until EOF, calling `sink` line by line, then closes it.
void forward_lines(int fd, const std::function<void(const std::string&)>& sink) {
  std::string pending;
  char chunk[4096];
  while (true) {
    const ssize_t got = ::read(fd, chunk, sizeof chunk);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;
    pending.append(chunk, static_cast<std::size_t>(got));
    for (std::size_t end = pending.find('\n'); end != std::string::npos; end = pending.find('\n')) {
      sink(pending.substr(0, end));
      pending.erase(0, end + 1);
    }
  }
  if (!pending.empty()) sink(pending);
  ::close(fd);
}

// The pipes of one start: [0] is the read end, [1] the write end; -1 when not wanted.
struct StartPipes {
  int stdin_pair[2] = {-1, -1};  // a socket pair: [0] ours, [1] the child's stdin
  int stdout_pipe[2] = {-1, -1};
  int stderr_pipe[2] = {-1, -1};
  int exec_error_pipe[2] = {-1, -1};  // the child reports a failed exec here; exec closes it

  void close_all() {
    for (int* fds : {stdin_pair, stdout_pipe, stderr_pipe, exec_error_pipe}) {
      close_fd(fds[0]);
      close_fd(fds[1]);
    }
  }
  void close_child_ends() {
    close_fd(stdin_pair[1]);
    close_fd(stdout_pipe[1]);
    close_fd(stderr_pipe[1]);
    close_fd(exec_error_pipe[1]);
  }
};

// Creates the wanted pipes, all close-on-exec. stdin is a socket so that writing to a dead child
// gives EPIPE (MSG_NOSIGNAL), not SIGPIPE. Returns false with errno set when one cannot be made.
bool create_pipes(const SubprocessOptions& options, StartPipes& pipes) {
  if (options.pipe_stdin && ::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pipes.stdin_pair) != 0) return false;
  if (options.pipe_stdout && ::pipe2(pipes.stdout_pipe, O_CLOEXEC) != 0) return false;
  if (options.pipe_stderr && ::pipe2(pipes.stderr_pipe, O_CLOEXEC) != 0) return false;
  return ::pipe2(pipes.exec_error_pipe, O_CLOEXEC) == 0;
}

}  // namespace

SubprocessError::SubprocessError(Stage stage, int error_number, const std::string& program)
    : std::runtime_error(stage_message(stage, error_number, program)), stage_(stage), error_number_(error_number) {}

std::string describe_wait_status(int status) {
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return "killed by signal " + std::to_string(WTERMSIG(status));
  return "stopped";
}

Subprocess::Subprocess(const std::vector<std::string>& argv, const SubprocessOptions& options)
    : program_(argv.at(0)) {
  StartPipes pipes;
  if (!create_pipes(options, pipes)) {
    const int error = errno;
    pipes.close_all();
    throw SubprocessError(SubprocessError::Stage::pipes, error, program_);
  }
  std::vector<char*> arguments;
  for (const auto& argument : argv) arguments.push_back(const_cast<char*>(argument.c_str()));
  arguments.push_back(nullptr);

  const pid_t pid = ::fork();
  if (pid == 0) {
    // Child: only async-signal-safe calls until exec. dup2 clears close-on-exec on 0, 1, 2.
    if (options.pipe_stdin) ::dup2(pipes.stdin_pair[1], 0);
    if (options.pipe_stdout) ::dup2(pipes.stdout_pipe[1], 1);
    if (options.pipe_stderr) ::dup2(pipes.stderr_pipe[1], 2);
    if (options.die_with_parent) ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (options.own_process_group) ::setpgid(0, 0);
    if (options.search_path) ::execvp(arguments[0], arguments.data());
    else ::execv(arguments[0], arguments.data());
    const int error = errno;
    (void)!::write(pipes.exec_error_pipe[1], &error, sizeof error);
    ::_exit(127);
  }
  const int fork_error = errno;
  pipes.close_child_ends();
  if (pid < 0) {
    pipes.close_all();
    throw SubprocessError(SubprocessError::Stage::fork, fork_error, program_);
  }
  int exec_error = 0;
  ssize_t got = 0;
  do {
    got = ::read(pipes.exec_error_pipe[0], &exec_error, sizeof exec_error);
  } while (got < 0 && errno == EINTR);
  close_fd(pipes.exec_error_pipe[0]);
  if (got == static_cast<ssize_t>(sizeof exec_error)) {
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    pipes.close_all();
    throw SubprocessError(SubprocessError::Stage::exec, exec_error, program_);
  }
  pid_ = pid;
  stdin_fd_ = pipes.stdin_pair[0];
  stdout_fd_ = pipes.stdout_pipe[0];
  stderr_fd_ = pipes.stderr_pipe[0];
  if (stdin_fd_ >= 0) ::fcntl(stdin_fd_, F_SETFL, ::fcntl(stdin_fd_, F_GETFL) | O_NONBLOCK);
}

Subprocess::~Subprocess() { release(); }

void Subprocess::release() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
  }
  close_fd(stdin_fd_);
  close_fd(stdout_fd_);
  close_fd(stderr_fd_);
  if (stderr_forwarder_.joinable()) stderr_forwarder_.join();
  if (stdout_forwarder_.joinable()) stdout_forwarder_.join();
}

PipeStatus Subprocess::write_all(std::string_view data, Clock::time_point deadline) {
  std::size_t sent = 0;
  while (sent < data.size()) {
    const ssize_t wrote = ::send(stdin_fd_, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
    if (wrote > 0) {
      sent += static_cast<std::size_t>(wrote);
      continue;
    }
    if (wrote < 0 && errno == EINTR) continue;
    if (wrote < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      pollfd writable{stdin_fd_, POLLOUT, 0};
      const int ready = ::poll(&writable, 1, remaining_ms(deadline));
      if (ready == 0) return PipeStatus::timed_out;
      continue;
    }
    return PipeStatus::closed;  // EPIPE / ECONNRESET: the process is gone
  }
  return PipeStatus::done;
}

PipeStatus Subprocess::read_line(std::string& line, Clock::time_point deadline) {
  while (true) {
    const std::size_t end = stdout_buffer_.find('\n');
    if (end != std::string::npos) {
      line = stdout_buffer_.substr(0, end);
      stdout_buffer_.erase(0, end + 1);
      return PipeStatus::done;
    }
    pollfd readable{stdout_fd_, POLLIN, 0};
    const int ready = ::poll(&readable, 1, remaining_ms(deadline));
    if (ready < 0 && errno == EINTR) continue;
    if (ready == 0) return PipeStatus::timed_out;
    char chunk[65536];
    const ssize_t got = ::read(stdout_fd_, chunk, sizeof chunk);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return PipeStatus::closed;  // EOF: the process exited
    stdout_buffer_.append(chunk, static_cast<std::size_t>(got));
  }
}

void Subprocess::close_stdin() { close_fd(stdin_fd_); }

void Subprocess::forward_stderr_lines(std::function<void(const std::string& line)> sink) {
  const int fd = std::exchange(stderr_fd_, -1);
  if (fd < 0) throw std::logic_error("forward_stderr_lines: stderr is not piped, or is forwarded already");
  stderr_forwarder_ = std::thread(forward_lines, fd, std::move(sink));
}

void Subprocess::forward_stdout_lines(std::function<void(const std::string& line)> sink) {
  const int fd = std::exchange(stdout_fd_, -1);
  if (fd < 0) throw std::logic_error("forward_stdout_lines: stdout is not piped, or is forwarded already");
  stdout_forwarder_ = std::thread(forward_lines, fd, std::move(sink));
}

std::optional<int> Subprocess::try_wait() {
  if (pid_ < 0) throw std::logic_error("Subprocess::try_wait: the child was reaped already");
  int status = 0;
  pid_t reaped = 0;
  while ((reaped = ::waitpid(pid_, &status, WNOHANG)) < 0) {
    if (errno != EINTR) throw SubprocessError(SubprocessError::Stage::wait, errno, program_);
  }
  if (reaped == 0) return std::nullopt;
  pid_ = -1;
  return status;
}

void Subprocess::send_signal(int signal) {
  if (pid_ > 0) ::kill(pid_, signal);
}

int Subprocess::wait() {
  if (pid_ < 0) throw std::logic_error("Subprocess::wait: the child was reaped already");
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0) {
    if (errno != EINTR) throw SubprocessError(SubprocessError::Stage::wait, errno, program_);
  }
  pid_ = -1;
  return status;
}

int Subprocess::wait_or_kill(std::chrono::milliseconds grace) {
  if (pid_ < 0) throw std::logic_error("Subprocess::wait_or_kill: the child was reaped already");
  int status = 0;
  const auto deadline = Clock::now() + grace;
  pid_t reaped = 0;
  while ((reaped = ::waitpid(pid_, &status, WNOHANG)) == 0 && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  if (reaped == 0) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, &status, 0);
  }
  pid_ = -1;
  return status;
}

}  // namespace selm
