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

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "selm/judge/judge.hpp"
#include "selm/judge/judge_config.hpp"
#include "selm/util/subprocess.hpp"

namespace selm {

// What one reply line says about `request`: a decided judgment, or a failed one naming what is
// wrong with the reply. `in_step` is false when the reply names another request (the process is
// out of step and must be restarted). Never throws: a bad reply is the judge's fault, not the
// run's.
struct CommandJudgeReply {
  Judgment judgment;
  bool in_step = true;
};
CommandJudgeReply judgment_from_reply_line(const std::string& reply_line, const JudgeRequest& request);

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
  void start();
  void stop(bool kill_now);
  // Sends one request line and reads one reply line, both within the timeout.
  PipeStatus exchange(const std::string& request_line, std::string& reply_line);
  Judgment judge_one(const JudgeRequest& request);

  CommandJudgeConfig config_;
  std::string config_hash_;
  std::optional<Subprocess> process_;  // empty while no process runs (before a restart)
  std::int64_t restarts_left_;
  bool given_up_ = false;
};

}  // namespace selm
