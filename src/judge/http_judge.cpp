#include "selm/judge/http_judge.hpp"

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <random>
#include <thread>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "selm/judge/pairwise.hpp"
#include "selm/util/error.hpp"
#include "selm/util/log.hpp"
#include "selm/util/sha256.hpp"

namespace selm {
namespace {

constexpr std::size_t reason_excerpt_chars = 200;

std::string excerpt(const std::string& text) {
  return text.size() <= reason_excerpt_chars ? text : text.substr(0, reason_excerpt_chars) + "...";
}

void set_timeouts(httplib::Client& client, double seconds) {
  const auto whole = static_cast<time_t>(seconds);
  const auto micro = static_cast<time_t>((seconds - static_cast<double>(whole)) * 1e6);
  client.set_connection_timeout(whole, micro);
  client.set_read_timeout(whole, micro);
  client.set_write_timeout(whole, micro);
}

// One pairwise question: candidates `first` and `second` of request `request`, in that order.
struct PairTask {
  std::size_t request = 0;
  std::size_t pair = 0;       // index into the request's pair list
  bool swapped = false;       // false: (i, j) shown as (A, B); true: (j, i)
};

}  // namespace

std::string chat_completion_content(const std::string& body) {
  try {
    const nlohmann::json parsed = nlohmann::json::parse(body);
    return parsed.at("choices").at(0).at("message").at("content").get<std::string>();
  } catch (const nlohmann::json::exception&) {
    throw InputError("malformed response (no choices[0].message.content): " + excerpt(body));
  }
}

struct HttpJudge::Connection {
  Connection(const std::string& scheme_host_port, double timeout_seconds, unsigned seed)
      : client(scheme_host_port), jitter_source(seed) {
    set_timeouts(client, timeout_seconds);
    client.set_keep_alive(true);
    client.set_tcp_nodelay(true);  // small request bodies: do not wait for delayed ACKs
  }
  httplib::Client client;
  std::mt19937 jitter_source;
};

HttpJudge::HttpJudge(const HttpJudgeConfig& config) : config_(config) {
  const std::string& url = config_.base_url;
  const std::size_t scheme_end = url.find("://");
  const std::string scheme = scheme_end == std::string::npos ? "" : url.substr(0, scheme_end);
  if (scheme != "http" && scheme != "https") {
    throw InputError("key 'judge.http.base_url': must start with http:// or https://, got '" + url + "'");
  }
#ifndef CPPHTTPLIB_OPENSSL_SUPPORT
  if (scheme == "https") {
    throw InputError("key 'judge.http.base_url': https needs cpp-httplib built with OpenSSL, which this build "
                     "lacks; use an http:// URL (e.g. a local vLLM or llama.cpp server) or rebuild with libssl-dev");
  }
#endif
  const std::size_t path_start = url.find('/', scheme_end + 3);
  endpoint_.scheme_host_port = url.substr(0, path_start);
  if (endpoint_.scheme_host_port.size() <= scheme.size() + 3) {
    throw InputError("key 'judge.http.base_url': no host in '" + url + "'");
  }
  std::string path = path_start == std::string::npos ? "" : url.substr(path_start);
  while (!path.empty() && path.back() == '/') path.pop_back();
  endpoint_.path = path + "/chat/completions";

  if (!config_.api_key_env.empty()) {
    const char* key = std::getenv(config_.api_key_env.c_str());
    if (key == nullptr || *key == '\0') {
      throw InputError("key 'judge.http.api_key_env': environment variable '" + config_.api_key_env +
                       "' is not set (it must hold the API key)");
    }
    api_key_ = key;
  }
  // Transport settings (timeouts, retries, concurrency) do not change verdicts: not hashed.
  const nlohmann::json identity = {{"type", "http"},
                                   {"base_url", config_.base_url},
                                   {"model", config_.model},
                                   {"temperature", config_.temperature},
                                   {"max_tokens", config_.max_tokens},
                                   {"system_prompt", config_.system_prompt},
                                   {"prompt_template", config_.prompt_template}};
  config_hash_ = sha256_hex(identity.dump()).substr(0, 16);
}

HttpJudge::~HttpJudge() = default;

std::unique_ptr<HttpJudge::Connection> HttpJudge::take_connection() {
  std::lock_guard<std::mutex> lock(pool_mutex_);
  if (!idle_connections_.empty()) {
    std::unique_ptr<Connection> connection = std::move(idle_connections_.back());
    idle_connections_.pop_back();
    return connection;
  }
  const unsigned seed = std::random_device{}() + connections_made_++;
  return std::make_unique<Connection>(endpoint_.scheme_host_port, config_.timeout_seconds, seed);
}

void HttpJudge::return_connection(std::unique_ptr<Connection> connection) {
  std::lock_guard<std::mutex> lock(pool_mutex_);
  idle_connections_.push_back(std::move(connection));
}

// Before any excerpt is cut: a key cut in two by the excerpt would no longer be found whole.
std::string HttpJudge::redact(std::string text) const {
  if (api_key_.empty()) return text;
  for (std::size_t at = text.find(api_key_); at != std::string::npos; at = text.find(api_key_, at)) {
    text.replace(at, api_key_.size(), "[redacted]");
  }
  return text;
}

HttpJudge::Reply HttpJudge::ask(Connection& connection, const std::string& user_message) {
  nlohmann::json messages = nlohmann::json::array();
  if (!config_.system_prompt.empty()) messages.push_back({{"role", "system"}, {"content", config_.system_prompt}});
  messages.push_back({{"role", "user"}, {"content", user_message}});
  const nlohmann::json body = {{"model", config_.model},
                               {"messages", messages},
                               {"temperature", config_.temperature},
                               {"max_tokens", config_.max_tokens}};
  const std::string body_text = body.dump();
  httplib::Request request;
  request.method = "POST";
  request.path = endpoint_.path;
  request.body = body_text;
  request.headers.emplace("Content-Type", "application/json");
  if (!api_key_.empty()) request.headers.emplace("Authorization", "Bearer " + api_key_);
  // The body is received here, so that a server sending without end is cut off at the limit
  // instead of filling the memory.
  const auto limit = static_cast<std::size_t>(config_.max_response_bytes);
  std::string received;
  bool too_long = false;
  request.content_receiver = [&](const char* data, std::size_t length, std::uint64_t, std::uint64_t) {
    if (length > limit - received.size()) {
      too_long = true;
      return false;  // aborts the exchange; the connection is closed
    }
    received.append(data, length);
    return true;
  };

  std::uniform_real_distribution<double> unit(0.0, 1.0);

  Reply reply;
  for (std::int64_t attempt = 0;; ++attempt) {
    const bool is_retry = attempt > 0;
    const auto start = std::chrono::steady_clock::now();
    received.clear();
    too_long = false;
    httplib::Result result = connection.client.send(request);
    const double latency = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::optional<double> retry_after;
    if (too_long) {
      record_request(is_retry, false, latency);
      reply.error = "response body longer than judge.http.max_response_bytes (" + std::to_string(limit) +
                    " bytes): cut off";
      break;  // the server's answer, which a retry would most likely repeat
    }
    if (!result) {
      record_request(is_retry, false, latency);
      reply.error = "request failed: " + httplib::to_string(result.error());
    } else {
      record_request(is_retry, true, latency);
      const int status = result->status;
      if (status == 200) {
        try {
          reply.content = chat_completion_content(redact(received));
          reply.error.clear();
        } catch (const InputError& error) {
          reply.error = error.what();
        }
        break;  // a malformed 200 is the server's answer, not a transient fault: no retry
      }
      reply.error = "HTTP " + std::to_string(status) + ": " + excerpt(redact(received));
      const bool retryable = status == 429 || status >= 500;
      if (!retryable) break;
      retry_after = parse_retry_after(result->get_header_value("Retry-After"));
    }
    if (attempt >= config_.max_retries) {
      reply.error += " (gave up after " + std::to_string(attempt) + " retries)";
      break;
    }
    const double delay = retry_delay_seconds(attempt, config_.backoff_initial_seconds, config_.backoff_max_seconds,
                                             unit(connection.jitter_source), retry_after);
    log::debug("http judge: " + redact(reply.error) + "; retrying in " + std::to_string(delay) + " s");
    std::this_thread::sleep_for(std::chrono::duration<double>(delay));
  }
  reply.error = redact(reply.error);
  return reply;
}

std::vector<Judgment> HttpJudge::rank_batch(const std::vector<JudgeRequest>& batch) {
  std::vector<Judgment> judgments(batch.size());
  std::vector<std::vector<std::pair<std::size_t, std::size_t>>> pairs(batch.size());
  std::vector<PairTask> tasks;
  std::vector<bool> needs_asking(batch.size(), false);
  for (std::size_t r = 0; r < batch.size(); ++r) {
    const std::size_t n = batch[r].candidates.size();
    if (n == 1) {
      judgments[r] = judgment_from_order({0}, 1);
      continue;
    }
    if (n > max_candidates) {
      judgments[r] = failed_judgment("the http judge ranks at most " + std::to_string(max_candidates) +
                                     " candidates, got " + std::to_string(n));
      continue;
    }
    needs_asking[r] = true;
    for (std::size_t i = 0; i < n; ++i) {
      for (std::size_t j = i + 1; j < n; ++j) {
        const std::size_t pair = pairs[r].size();
        pairs[r].emplace_back(i, j);
        tasks.push_back({r, pair, false});
        tasks.push_back({r, pair, true});
      }
    }
  }

  std::vector<Reply> replies(tasks.size());
  std::atomic<std::size_t> next_task{0};
  auto worker = [&] {
    std::unique_ptr<Connection> connection = take_connection();
    for (std::size_t t = next_task++; t < tasks.size(); t = next_task++) {
      const PairTask& task = tasks[t];
      const JudgeRequest& request = batch[task.request];
      const auto [i, j] = pairs[task.request][task.pair];
      const std::string& shown_first = request.candidates[task.swapped ? j : i];
      const std::string& shown_second = request.candidates[task.swapped ? i : j];
      replies[t] = ask(*connection, render_pairwise_prompt(config_.prompt_template, request.prompt, shown_first, shown_second));
    }
    return_connection(std::move(connection));
  };
  const std::size_t thread_count = std::min<std::size_t>(static_cast<std::size_t>(config_.max_concurrent), tasks.size());
  std::vector<std::thread> threads;
  for (std::size_t k = 0; k + 1 < thread_count; ++k) threads.emplace_back(worker);
  if (thread_count > 0) worker();
  for (auto& thread : threads) thread.join();

  // Replies come in (i first, j first) couples, in pair order, per request.
  std::size_t t = 0;
  for (std::size_t r = 0; r < batch.size(); ++r) {
    if (!needs_asking[r]) continue;
    std::string failure;
    std::string unparseable;
    std::vector<double> outcomes;
    for (std::size_t pair = 0; pair < pairs[r].size(); ++pair, t += 2) {
      const Reply& i_first = replies[t];
      const Reply& j_first = replies[t + 1];
      for (const Reply* reply : {&i_first, &j_first}) {
        if (!reply->content && failure.empty()) failure = reply->error;
      }
      if (!failure.empty()) continue;
      const auto verdict_i_first = parse_pair_verdict(*i_first.content);
      const auto verdict_j_first = parse_pair_verdict(*j_first.content);
      if (!verdict_i_first || !verdict_j_first) {
        if (unparseable.empty()) unparseable = excerpt(redact(!verdict_i_first ? *i_first.content : *j_first.content));
        continue;
      }
      outcomes.push_back(pair_outcome(*verdict_i_first, *verdict_j_first));
    }
    if (!failure.empty()) {
      judgments[r] = failed_judgment(failure);
    } else if (!unparseable.empty()) {
      judgments[r] = abstained_judgment(redact("unparseable verdict (expected A or B): '" + unparseable + "'"));
    } else {
      judgments[r] = judgment_from_pairwise(batch[r].candidates.size(), pairs[r], outcomes);
    }
  }
  return judgments;
}

}  // namespace selm
