#include "selm/judge/judge_config.hpp"

#include <set>

namespace selm {

void HttpJudgeConfig::validate(const FieldChecker& check) const {
  check.require(temperature >= 0.0, "temperature", "must be >= 0");
  check.require(max_tokens >= 1, "max_tokens", "must be >= 1");
  check.require(timeout_seconds > 0.0, "timeout_seconds", "must be > 0");
  check.require(max_concurrent >= 1 && max_concurrent <= 256, "max_concurrent", "must be in 1..256");
  check.require(max_retries >= 0, "max_retries", "must be >= 0");
  check.require(backoff_initial_seconds >= 0.0, "backoff_initial_seconds", "must be >= 0");
  check.require(backoff_max_seconds >= backoff_initial_seconds, "backoff_max_seconds",
                "must be >= backoff_initial_seconds");
  check.require(max_response_bytes > 0, "max_response_bytes", "must be > 0");
  for (const char* placeholder : {"{prompt}", "{response_a}", "{response_b}"}) {
    check.require(prompt_template.find(placeholder) != std::string::npos, "prompt_template",
                  std::string("must contain ") + placeholder);
  }
}

void CommandJudgeConfig::validate(const FieldChecker& check) const {
  check.require(timeout_seconds > 0.0, "timeout_seconds", "must be > 0");
  check.require(max_restarts >= 0, "max_restarts", "must be >= 0");
}

void RewardModelJudgeConfig::validate(const FieldChecker& check) const {
  check.require(batch_size >= 1, "batch_size", "must be >= 1");
  // Room for at least one prompt token and the end-of-turn token.
  check.require(max_length >= 2, "max_length", "must be >= 2");
  static const std::set<std::string> templates = {"auto", "zephyr", "llama2", "chatml", "plain"};
  check.require(templates.count(chat_template) == 1, "chat_template",
                "unknown chat template '" + chat_template + "' (known: auto, zephyr, llama2, chatml, plain)");
}

void JudgeConfig::validate(const FieldChecker& check) const {
  check.require(batch_size >= 1, "batch_size", "must be >= 1");
  http.validate(check.nested("http"));
  command.validate(check.nested("command"));
  reward_model.validate(check.nested("reward_model"));
  // Settings that only the selected judge needs.
  if (type == JudgeType::http) {
    check.require(!http.base_url.empty(), "http.base_url", "the http judge needs a base URL, e.g. http://127.0.0.1:8000/v1");
    check.require(!http.model.empty(), "http.model", "the http judge needs a model name");
  }
  if (type == JudgeType::command) {
    check.require(!command.argv.empty(), "command.argv", "the command judge needs a program to run, e.g. [python3, judge.py]");
  }
  if (type == JudgeType::reward_model) {
    check.require(!reward_model.path.empty(), "reward_model.path",
                  "the reward_model judge needs a model directory (LlamaForSequenceClassification)");
  }
}

}  // namespace selm
