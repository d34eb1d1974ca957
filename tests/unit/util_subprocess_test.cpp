// util/subprocess: exit statuses, exec failures reported by the constructor, PATH lookup, line
// I/O over the pipes with deadlines, a dead reader, stderr forwarding, killing and reaping.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/wait.h>

#include <cerrno>
#include <chrono>
#include <mutex>
#include <string>
#include <vector>

#include "selm/util/subprocess.hpp"

namespace selm {
namespace SELM_UNITY_ID {

using std::chrono::milliseconds;

Subprocess::Clock::time_point in_ms(int ms) { return Subprocess::Clock::now() + milliseconds(ms); }

SubprocessOptions piped() {
  SubprocessOptions options;
  options.pipe_stdin = true;
  options.pipe_stdout = true;
  return options;
}

TEST(UtilSubprocess, ReportsTheExitStatusAndTheKillingSignal) {
  Subprocess exits({"/bin/sh", "-c", "exit 3"}, SubprocessOptions{});
  const int status = exits.wait();
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 3);
  EXPECT_EQ(describe_wait_status(status), "exited with status 3");

  Subprocess killed({"/bin/sh", "-c", "kill -9 $$"}, SubprocessOptions{});
  EXPECT_EQ(describe_wait_status(killed.wait()), "killed by signal 9");
}

TEST(UtilSubprocess, AProgramThatCannotRunIsAnExecErrorFromTheConstructor) {
  try {
    Subprocess missing({"/no/such/program", "x"}, SubprocessOptions{});
    FAIL() << "expected SubprocessError";
  } catch (const SubprocessError& error) {
    EXPECT_EQ(error.stage(), SubprocessError::Stage::exec);
    EXPECT_EQ(error.error_number(), ENOENT);
    EXPECT_EQ(std::string(error.what()), "cannot run '/no/such/program': No such file or directory");
  }
}

TEST(UtilSubprocess, SearchesPathOnlyWhenAskedTo) {
  SubprocessOptions search;
  search.search_path = true;
  Subprocess found({"sh", "-c", "exit 0"}, search);
  EXPECT_EQ(describe_wait_status(found.wait()), "exited with status 0");
  try {
    Subprocess not_searched({"sh", "-c", "exit 0"}, SubprocessOptions{});
    FAIL() << "a bare name without search_path must not be looked up on PATH";
  } catch (const SubprocessError& error) {
    EXPECT_EQ(error.stage(), SubprocessError::Stage::exec);
  }
}

TEST(UtilSubprocess, ExchangesLinesAndSeesTheEndOfTheStream) {
  Subprocess cat({"/bin/cat"}, piped());
  ASSERT_EQ(cat.write_all("first\nsecond\nthird", in_ms(5000)), PipeStatus::done);
  std::string line;
  ASSERT_EQ(cat.read_line(line, in_ms(5000)), PipeStatus::done);
  EXPECT_EQ(line, "first");
  ASSERT_EQ(cat.read_line(line, in_ms(5000)), PipeStatus::done);
  EXPECT_EQ(line, "second");
  cat.close_stdin();
  // "third" has no newline: at EOF it is not a line.
  EXPECT_EQ(cat.read_line(line, in_ms(5000)), PipeStatus::closed);
  EXPECT_EQ(line, "second");
  EXPECT_EQ(describe_wait_status(cat.wait()), "exited with status 0");
}

TEST(UtilSubprocess, AReadTimesOutAtTheDeadline) {
  Subprocess silent({"/bin/sleep", "30"}, piped());
  const auto start = Subprocess::Clock::now();
  std::string line;
  EXPECT_EQ(silent.read_line(line, in_ms(200)), PipeStatus::timed_out);
  const double waited = std::chrono::duration<double>(Subprocess::Clock::now() - start).count();
  EXPECT_GE(waited, 0.15);
  EXPECT_LT(waited, 10.0);
  silent.send_signal(SIGKILL);
  EXPECT_EQ(describe_wait_status(silent.wait()), "killed by signal 9");
}

TEST(UtilSubprocess, WritingToAnExitedChildIsClosedNotSigpipe) {
  Subprocess gone({"/bin/sh", "-c", "exit 0"}, piped());
  EXPECT_EQ(describe_wait_status(gone.wait()), "exited with status 0");
  // More than a socket buffer, so that the write cannot just land in the buffer.
  EXPECT_EQ(gone.write_all(std::string(4 << 20, 'x'), in_ms(5000)), PipeStatus::closed);
}

TEST(UtilSubprocess, ForwardsStderrLineByLine) {
  SubprocessOptions options;
  options.pipe_stderr = true;
  std::mutex mutex;
  std::vector<std::string> lines;
  {
    Subprocess noisy({"/bin/sh", "-c", "echo one >&2; echo two >&2; printf three >&2"}, options);
    noisy.forward_stderr_lines([&](const std::string& line) {
      std::lock_guard<std::mutex> lock(mutex);
      lines.push_back(line);
    });
    EXPECT_EQ(describe_wait_status(noisy.wait()), "exited with status 0");
  }  // joins the forwarder
  EXPECT_EQ(lines, (std::vector<std::string>{"one", "two", "three"}));
}

TEST(UtilSubprocess, WaitOrKillKillsAChildThatDoesNotExit) {
  Subprocess stubborn({"/bin/sleep", "30"}, piped());
  stubborn.close_stdin();
  const auto start = Subprocess::Clock::now();
  EXPECT_EQ(describe_wait_status(stubborn.wait_or_kill(milliseconds(100))), "killed by signal 9");
  EXPECT_LT(std::chrono::duration<double>(Subprocess::Clock::now() - start).count(), 10.0);

  Subprocess quick({"/bin/cat"}, piped());
  quick.close_stdin();  // cat exits at EOF, well within the grace period
  EXPECT_EQ(describe_wait_status(quick.wait_or_kill(milliseconds(5000))), "exited with status 0");
}

TEST(UtilSubprocess, TheDestructorKillsAndReapsARunningChild) {
  pid_t pid = -1;
  {
    Subprocess running({"/bin/sleep", "30"}, SubprocessOptions{});
    pid = running.pid();
    ASSERT_GT(pid, 0);
    EXPECT_EQ(::kill(pid, 0), 0);
  }
  errno = 0;
  EXPECT_EQ(::kill(pid, 0), -1);  // reaped: no such process (not even a zombie)
  EXPECT_EQ(errno, ESRCH);
}

}  // namespace
}  // namespace selm
