// A judge that is a persistent subprocess speaking JSON lines on stdin/stdout:
//   request  {"id": str, "prompt": str, "candidates": [str, ...]}
//   reply    {"id": str, "scores": [num, ...]}   higher = better, one per candidate
//          | {"id": str, "ranking": [int, ...]}  candidate indices, best first
//          | {"id": str, "error": str}           the judgment fails with this reason
// Started from an argv list with fork/exec (no shell); its stderr goes to the log line by
// line. One request is in flight at a time. A reply that does not come within the timeout
// kills the process; a crash or a kill restarts it (a bounded number of times over the judge's
// life) and the interrupted request is sent once more.
#pragma once

#include <sys/types.h>

#include <string>
#include <thread>
#include <vector>

#include "selm/judge/judge.hpp"
#include "selm/judge/judge_config.hpp"

namespace selm {

class CommandJudge : public Judge {
 public:
  // Starts the process; throws InputError for an empty argv, std::runtime_error when it
  // cannot be started.
  explicit CommandJudge(const CommandJudgeConfig& config);
  ~CommandJudge() override;
  CommandJudge(const CommandJudge&) = delete;
  CommandJudge& operator=(const CommandJudge&) = delete;

  std::string id() const override;
  std::string config_hash() const override { return config_hash_; }

 protected:
  std::vector<Judgment> rank_batch(const std::vector<JudgeRequest>& batch) override;

 private:
  enum class Exchange { answered, crashed, timed_out };
  void start();
  void stop(bool kill_now);
  Exchange exchange(const std::string& request_line, std::string& reply_line);
  Judgment judge_one(const JudgeRequest& request);

  CommandJudgeConfig config_;
  std::string config_hash_;
  pid_t pid_ = -1;
  int stdin_fd_ = -1;   // our end of the child's stdin (a socket: writes never raise SIGPIPE)
  int stdout_fd_ = -1;  // our end of the child's stdout
  std::string stdout_buffer_;
  std::thread stderr_forwarder_;
  std::int64_t restarts_left_;
  bool given_up_ = false;
};

}  // namespace selm
