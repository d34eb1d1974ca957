// LLM-as-judge over an OpenAI-compatible POST {base_url}/chat/completions (vLLM, llama.cpp's
// server, OpenAI). Each pair of candidates is asked in both orders; a verdict that follows the
// position is a tie; 2..4 candidates are ranked by pairwise wins. Requests run on a small
// thread pool, with retries on timeouts, lost connections, 429 and 5xx (exponential backoff
// with jitter, Retry-After honoured). The API key is read from the environment variable named
// in the config and never written anywhere.
#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "selm/judge/judge.hpp"
#include "selm/judge/judge_config.hpp"

namespace selm {

// The message text of an OpenAI-compatible chat completion body: choices[0].message.content.
// InputError "malformed response (no choices[0].message.content): EXCERPT" for any other body
// (the exchange then fails; a malformed answer is the server's, not a transient fault).
std::string chat_completion_content(const std::string& body);

class HttpJudge : public Judge {
 public:
  static constexpr std::size_t max_candidates = 4;

  // Throws InputError naming the key for a bad URL or a missing API key variable.
  explicit HttpJudge(const HttpJudgeConfig& config);
  ~HttpJudge() override;
  std::string id() const override { return "http:" + config_.model; }
  std::string config_hash() const override { return config_hash_; }

 protected:
  std::vector<Judgment> rank_batch(const std::vector<JudgeRequest>& batch) override;

 private:
  struct Reply {
    std::optional<std::string> content;  // the message text, when the exchange succeeded
    std::string error;                   // why not, otherwise
  };
  struct Endpoint {
    std::string scheme_host_port;  // "http://127.0.0.1:8000"
    std::string path;              // "/v1/chat/completions"
  };
  struct Connection;  // a keep-alive client used by one worker at a time (defined in the .cpp)
  Reply ask(Connection& connection, const std::string& user_message);
  std::unique_ptr<Connection> take_connection();
  void return_connection(std::unique_ptr<Connection> connection);
  std::string redact(std::string text) const;

  HttpJudgeConfig config_;
  Endpoint endpoint_;
  std::string api_key_;  // empty = no Authorization header
  std::string config_hash_;
  // Connections outlive a batch so that keep-alive (and TLS sessions) carry over.
  std::mutex pool_mutex_;
  std::vector<std::unique_ptr<Connection>> idle_connections_;
  unsigned connections_made_ = 0;
};

}  // namespace selm
