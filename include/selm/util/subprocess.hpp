// A child process started from an argv list with fork/exec (no shell), its standard streams
// either inherited or piped to this process, with deadline-bounded line I/O on the pipes.
//
// Start-up failures are reported precisely: a program that cannot be executed (not found, not
// executable) is a SubprocessError of stage exec raised by the constructor, after the child is
// reaped, not an exit status of 127 found later.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace selm {

// Why a subprocess operation failed, with the errno of the failing call.
class SubprocessError : public std::runtime_error {
 public:
  enum class Stage { pipes, fork, exec, wait };
  // what(): "cannot create pipes: E", "fork failed: E", "cannot run 'PROGRAM': E" or
  // "waitpid failed: E", E being strerror(error_number).
  SubprocessError(Stage stage, int error_number, const std::string& program);
  Stage stage() const { return stage_; }
  int error_number() const { return error_number_; }

 private:
  Stage stage_;
  int error_number_;
};

struct SubprocessOptions {
  bool search_path = false;  // find argv[0] on PATH (execvp) instead of taking it as a path (execv)
  bool pipe_stdin = false;   // stdin from write_all(); else inherited
  bool pipe_stdout = false;  // stdout to read_line(); else inherited
  bool pipe_stderr = false;  // stderr to forward_stderr_lines(); else inherited
  bool die_with_parent = false;  // the child gets SIGKILL when this process dies (Linux)
  // The child leads a process group of its own, so that a terminal's Ctrl-C reaches this process
  // only (which may forward it) and not the child directly as well.
  bool own_process_group = false;
};

// Outcome of a deadline-bounded read or write on a pipe.
enum class PipeStatus {
  done,       // everything written / one line read
  timed_out,  // the deadline passed first
  closed,     // the child's end is closed: it exited or closed the stream
};

// "exited with status N", "killed by signal N" or "stopped", for a waitpid status.
std::string describe_wait_status(int status);

class Subprocess {
 public:
  using Clock = std::chrono::steady_clock;

  // Forks and executes argv[0] with `argv` (at least one element). Every descriptor this process
  // opens is close-on-exec, so the child gets only its three streams. Throws SubprocessError.
  Subprocess(const std::vector<std::string>& argv, const SubprocessOptions& options);
  // A child still running is killed (SIGKILL) and reaped; the pipes are closed and the stderr
  // forwarder is joined.
  ~Subprocess();
  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;

  pid_t pid() const { return pid_; }

  // Writes all of `data` to the child's stdin. The stdin end is a socket, non-blocking, so that
  // writing to a dead child gives `closed` (EPIPE) instead of a SIGPIPE, and a child that stops
  // reading gives `timed_out` at `deadline`.
  PipeStatus write_all(std::string_view data, Clock::time_point deadline);
  // The next line of the child's stdout, without its '\n'; bytes after it are kept for the next
  // call. `closed` at EOF (an unterminated last line is not returned).
  PipeStatus read_line(std::string& line, Clock::time_point deadline);
  // EOF on the child's stdin (a child that reads until EOF then exits).
  void close_stdin();

  // Starts a thread that reads the child's stderr until it closes and calls `sink` with each
  // line (without '\n'; an unterminated last line too). `sink` runs on that thread.
  void forward_stderr_lines(std::function<void(const std::string& line)> sink);
  // The same for stdout (read_line is then unavailable).
  void forward_stdout_lines(std::function<void(const std::string& line)> sink);

  // Sends `signal` to the child (when it has not been reaped yet).
  void send_signal(int signal);
  // Blocks until the child exits; returns its waitpid status. Throws SubprocessError (wait).
  int wait();
  // The waitpid status when the child has exited (it is then reaped), nullopt while it runs.
  std::optional<int> try_wait();
  // Waits up to `grace` for the child to exit, then kills it (SIGKILL) and waits; returns its
  // waitpid status.
  int wait_or_kill(std::chrono::milliseconds grace);

 private:
  void release();

  std::string program_;
  pid_t pid_ = -1;       // -1 once reaped
  int stdin_fd_ = -1;    // our end of the child's stdin
  int stdout_fd_ = -1;   // our end of the child's stdout
  int stderr_fd_ = -1;   // our end of the child's stderr, until forward_stderr_lines takes it
  std::string stdout_buffer_;  // bytes read past the last returned line
  std::thread stderr_forwarder_;
  std::thread stdout_forwarder_;
};

}  // namespace selm
