// The http judge against local servers on 127.0.0.1 (ephemeral ports) that answer correctly,
// answer garbage, return 429 or 500, stall past the timeout or close the connection.
#include <gtest/gtest.h>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <mutex>
#include <thread>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "selm/config/config.hpp"
#include "selm/judge/http_judge.hpp"
#include "selm/judge/judge_factory.hpp"
#include "selm/util/error.hpp"
#include "support/test_support.hpp"

namespace selm {
namespace SELM_UNITY_ID {

// The template the tests use: the server reads the two responses back from the message.
const char* const test_template = "Q: {prompt}\n<A>{response_a}</A>\n<B>{response_b}</B>\nAnswer A or B.";

std::string between(const std::string& text, const std::string& open, const std::string& close) {
  const std::size_t begin = text.find(open) + open.size();
  return text.substr(begin, text.find(close, begin) - begin);
}

std::string completion(const std::string& content) {
  return nlohmann::json({{"id", "cmpl-1"},
                         {"object", "chat.completion"},
                         {"choices", {{{"index", 0}, {"message", {{"role", "assistant"}, {"content", content}}},
                                       {"finish_reason", "stop"}}}}})
      .dump();
}

// Candidates are numbers written as text; an honest judge prefers the larger one.
std::string honest_verdict(const httplib::Request& request) {
  const auto body = nlohmann::json::parse(request.body);
  const std::string message = body["messages"].back()["content"];
  const double a = std::stod(between(message, "<A>", "</A>"));
  const double b = std::stod(between(message, "<B>", "</B>"));
  return a > b ? "A" : "B";
}

// A chat completions server whose behaviour is a function of the 0-based request number.
class FakeServer {
 public:
  using Behaviour = std::function<void(int request_number, const httplib::Request&, httplib::Response&)>;

  explicit FakeServer(Behaviour behaviour) : behaviour_(std::move(behaviour)) {
    // Each keep-alive connection holds a server thread: room for 8 clients plus stalled ones.
    server_.new_task_queue = [] { return new httplib::ThreadPool(32); };
    server_.set_tcp_nodelay(true);
    server_.Post("/v1/chat/completions", [this](const httplib::Request& request, httplib::Response& response) {
      int number = 0;
      {
        std::lock_guard<std::mutex> lock(mutex_);
        number = static_cast<int>(bodies_.size());
        bodies_.push_back(request.body);
        authorizations_.push_back(request.get_header_value("Authorization"));
      }
      behaviour_(number, request, response);
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
  }
  ~FakeServer() {
    server_.stop();
    thread_.join();
  }
  std::string base_url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/v1"; }
  int requests() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return static_cast<int>(bodies_.size());
  }
  std::vector<std::string> bodies() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return bodies_;
  }
  std::vector<std::string> authorizations() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return authorizations_;
  }

 private:
  Behaviour behaviour_;
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
  mutable std::mutex mutex_;
  std::vector<std::string> bodies_;
  std::vector<std::string> authorizations_;
};

// Accepts connections and closes them without a word.
class ClosingServer {
 public:
  ClosingServer() {
    listener_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = 0;
    EXPECT_EQ(::bind(listener_, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
    EXPECT_EQ(::listen(listener_, 16), 0);
    socklen_t length = sizeof address;
    ::getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &length);
    port_ = ntohs(address.sin_port);
    thread_ = std::thread([this] {
      while (true) {
        const int connection = ::accept(listener_, nullptr, nullptr);
        if (connection < 0 || stopping_) {
          if (connection >= 0) ::close(connection);
          break;
        }
        ++accepted_;
        char buffer[4096];
        (void)!::recv(connection, buffer, sizeof buffer, 0);  // take the request, then hang up
        ::close(connection);
      }
    });
  }
  ~ClosingServer() {
    stopping_ = true;
    ::shutdown(listener_, SHUT_RDWR);
    ::close(listener_);
    thread_.join();
  }
  std::string base_url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/v1"; }
  int accepted() const { return accepted_; }

 private:
  int listener_ = -1;
  int port_ = 0;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  std::atomic<int> accepted_{0};
};

// Timeouts: 1 s where no stall is tested (a loaded machine must not turn a quick answer into a
// timeout), 0.3 s in the stall tests.
HttpJudgeConfig test_config(const std::string& base_url, double timeout_seconds = 1.0) {
  HttpJudgeConfig config;
  config.base_url = base_url;
  config.model = "test-judge";
  config.prompt_template = test_template;
  config.timeout_seconds = timeout_seconds;
  config.max_concurrent = 1;
  config.max_retries = 2;
  config.backoff_initial_seconds = 0.002;
  config.backoff_max_seconds = 0.01;
  return config;
}

std::vector<JudgeRequest> one_pair() { return {{"r0", "which number is larger?", {"3", "7"}}}; }

TEST(JudgeHttp, HonestServerRanksByPairwiseWins) {
  FakeServer server([](int, const httplib::Request& request, httplib::Response& response) {
    response.set_content(completion(honest_verdict(request)), "application/json");
  });
  HttpJudge judge(test_config(server.base_url()));
  const auto judgments = judge.rank({{"r0", "p", {"3", "7"}}, {"r1", "p", {"5", "9", "1", "4"}}, {"r2", "p", {"8"}}});
  ASSERT_EQ(judgments.size(), 3u);
  EXPECT_EQ(judgments[0].status, JudgmentStatus::ok);
  EXPECT_EQ(judgments[0].order, (std::vector<std::int64_t>{1, 0}));
  EXPECT_EQ(judgments[1].status, JudgmentStatus::ok);
  EXPECT_EQ(judgments[1].order, (std::vector<std::int64_t>{1, 0, 3, 2}));
  EXPECT_EQ(*judgments[1].scores, (std::vector<double>{2, 3, 0, 1}));  // wins over 3 rivals
  EXPECT_EQ(judgments[2].order, (std::vector<std::int64_t>{0}));       // nothing to compare
  // 1 pair + 6 pairs, each asked in both orders.
  const JudgeStats stats = judge.stats();
  EXPECT_EQ(stats.requests, 14);
  EXPECT_EQ(server.requests(), 14);
  EXPECT_EQ(stats.retries, 0);
  EXPECT_EQ(stats.ok, 3);
  EXPECT_EQ(stats.abstained, 0);
  EXPECT_EQ(stats.failed, 0);
  // A plain OpenAI-style body: model, messages, temperature 0, max_tokens; no key configured.
  const auto body = nlohmann::json::parse(server.bodies().front());
  EXPECT_EQ(body["model"], "test-judge");
  EXPECT_EQ(body["temperature"], 0.0);
  EXPECT_EQ(body["max_tokens"], 8);
  EXPECT_EQ(body["messages"][0]["role"], "system");
  EXPECT_EQ(body["messages"][1]["role"], "user");
  EXPECT_EQ(server.authorizations().front(), "");
}

TEST(JudgeHttp, EachPairIsAskedInBothOrders) {
  FakeServer server([](int, const httplib::Request& request, httplib::Response& response) {
    response.set_content(completion(honest_verdict(request)), "application/json");
  });
  HttpJudge judge(test_config(server.base_url()));
  judge.rank(one_pair());
  std::vector<std::string> shown_first;
  for (const auto& text : server.bodies()) {
    shown_first.push_back(between(nlohmann::json::parse(text)["messages"][1]["content"], "<A>", "</A>"));
  }
  std::sort(shown_first.begin(), shown_first.end());
  EXPECT_EQ(shown_first, (std::vector<std::string>{"3", "7"}));
}

TEST(JudgeHttp, PositionBiasedServerGivesNoVerdict) {
  // Always prefers whatever is shown first: every pair flips with the order.
  FakeServer server([](int, const httplib::Request&, httplib::Response& response) {
    response.set_content(completion("A"), "application/json");
  });
  HttpJudge judge(test_config(server.base_url()));
  const auto judgments = judge.rank({{"two", "p", {"3", "7"}}, {"three", "p", {"1", "2", "3"}}});
  for (const Judgment& judgment : judgments) {
    EXPECT_EQ(judgment.status, JudgmentStatus::abstained) << judgment.id;
    EXPECT_NE(judgment.reason.find("tied"), std::string::npos) << judgment.reason;
    EXPECT_TRUE(judgment.order.empty());
  }
  EXPECT_EQ(*judgments[1].scores, (std::vector<double>{1.0, 1.0, 1.0}));  // three half-wins each
  EXPECT_EQ(judge.stats().abstained, 2);
  EXPECT_EQ(judge.stats().ok, 0);
}

TEST(JudgeHttp, UnparseableVerdictAbstainsWithoutRetry) {
  FakeServer server([](int, const httplib::Request&, httplib::Response& response) {
    response.set_content(completion("Both responses have merit."), "application/json");
  });
  HttpJudge judge(test_config(server.base_url()));
  const auto judgments = judge.rank(one_pair());
  EXPECT_EQ(judgments[0].status, JudgmentStatus::abstained);
  EXPECT_NE(judgments[0].reason.find("Both responses have merit."), std::string::npos);
  EXPECT_EQ(judge.stats().requests, 2);
  EXPECT_EQ(judge.stats().retries, 0);
}

TEST(JudgeHttp, GarbageBodyFailsWithoutRetry) {
  FakeServer server([](int, const httplib::Request&, httplib::Response& response) {
    response.set_content("<html>gateway says hi</html>", "text/html");
  });
  HttpJudge judge(test_config(server.base_url()));
  const auto judgments = judge.rank(one_pair());
  EXPECT_EQ(judgments[0].status, JudgmentStatus::failed);
  EXPECT_NE(judgments[0].reason.find("malformed response"), std::string::npos) << judgments[0].reason;
  EXPECT_EQ(judge.stats().requests, 2);
  EXPECT_EQ(judge.stats().failed, 1);
}

// A body past judge.http.max_response_bytes is cut off while it arrives: a server streaming
// without end fails the exchange instead of filling the memory, and it is not retried.
TEST(JudgeHttp, EndlessBodyIsCutOffAtTheLimit) {
  FakeServer server([](int, const httplib::Request&, httplib::Response& response) {
    response.set_chunked_content_provider("application/json", [](std::size_t offset, httplib::DataSink& sink) {
      const std::string chunk(64 * 1024, ' ');
      if (!sink.write(chunk.data(), chunk.size())) return false;  // the client hung up
      return offset < (std::size_t{1} << 32);  // 4 GiB: endless for the test's purpose
    });
  });
  HttpJudgeConfig config = test_config(server.base_url(), 10.0);
  config.max_response_bytes = 256 * 1024;
  HttpJudge judge(config);
  const auto judgments = judge.rank(one_pair());
  EXPECT_EQ(judgments[0].status, JudgmentStatus::failed);
  EXPECT_NE(judgments[0].reason.find("max_response_bytes (262144 bytes)"), std::string::npos) << judgments[0].reason;
  EXPECT_EQ(judge.stats().requests, 2);
}

TEST(JudgeHttp, LargeBodyWithinTheLimitIsRead) {
  FakeServer server([](int, const httplib::Request& request, httplib::Response& response) {
    nlohmann::json body = nlohmann::json::parse(completion(honest_verdict(request)));
    body["padding"] = std::string(300 * 1024, 'x');
    response.set_content(body.dump(), "application/json");
  });
  HttpJudgeConfig config = test_config(server.base_url(), 10.0);
  config.max_response_bytes = 400 * 1024;
  HttpJudge judge(config);
  EXPECT_EQ(judge.rank(one_pair())[0].status, JudgmentStatus::ok);
  config.max_response_bytes = 200 * 1024;
  HttpJudge small(config);
  const auto judgments = small.rank(one_pair());
  EXPECT_EQ(judgments[0].status, JudgmentStatus::failed);
  EXPECT_NE(judgments[0].reason.find("max_response_bytes"), std::string::npos) << judgments[0].reason;
}

TEST(JudgeHttp, RetriesServerErrorsThenSucceeds) {
  // Requests 0 and 1 get 500, then the server recovers (max_concurrent 1: requests are serial).
  FakeServer server([](int number, const httplib::Request& request, httplib::Response& response) {
    if (number < 2) {
      response.status = 500;
      response.set_content("internal error", "text/plain");
      return;
    }
    response.set_content(completion(honest_verdict(request)), "application/json");
  });
  HttpJudge judge(test_config(server.base_url()));
  const auto judgments = judge.rank(one_pair());
  EXPECT_EQ(judgments[0].status, JudgmentStatus::ok);
  EXPECT_EQ(judgments[0].order, (std::vector<std::int64_t>{1, 0}));
  EXPECT_EQ(judge.stats().requests, 4);
  EXPECT_EQ(judge.stats().retries, 2);
  EXPECT_EQ(server.requests(), 4);
}

TEST(JudgeHttp, PersistentServerErrorFailsAfterTheConfiguredRetries) {
  FakeServer server([](int, const httplib::Request&, httplib::Response& response) {
    response.status = 503;
    response.set_content("overloaded", "text/plain");
  });
  HttpJudgeConfig config = test_config(server.base_url());
  config.max_retries = 3;
  HttpJudge judge(config);
  const auto judgments = judge.rank(one_pair());
  EXPECT_EQ(judgments[0].status, JudgmentStatus::failed);
  EXPECT_NE(judgments[0].reason.find("HTTP 503"), std::string::npos) << judgments[0].reason;
  EXPECT_NE(judgments[0].reason.find("after 3 retries"), std::string::npos) << judgments[0].reason;
  EXPECT_TRUE(judgments[0].order.empty());
  // Two questions, each tried 1 + 3 times.
  EXPECT_EQ(judge.stats().requests, 8);
  EXPECT_EQ(judge.stats().retries, 6);
  EXPECT_EQ(judge.stats().failed, 1);
  EXPECT_EQ(judge.stats().ok, 0);
}

TEST(JudgeHttp, ClientErrorsAreNotRetried) {
  FakeServer server([](int, const httplib::Request&, httplib::Response& response) {
    response.status = 400;
    response.set_content("{\"error\": \"bad model\"}", "application/json");
  });
  HttpJudge judge(test_config(server.base_url()));
  const auto judgments = judge.rank(one_pair());
  EXPECT_EQ(judgments[0].status, JudgmentStatus::failed);
  EXPECT_NE(judgments[0].reason.find("HTTP 400"), std::string::npos);
  EXPECT_EQ(judge.stats().requests, 2);
  EXPECT_EQ(judge.stats().retries, 0);
}

TEST(JudgeHttp, RateLimitHonoursRetryAfter) {
  FakeServer server([](int number, const httplib::Request& request, httplib::Response& response) {
    if (number == 0) {
      response.status = 429;
      response.set_header("Retry-After", "1");
      response.set_content("slow down", "text/plain");
      return;
    }
    response.set_content(completion(honest_verdict(request)), "application/json");
  });
  HttpJudge judge(test_config(server.base_url()));  // backoff alone would wait a few ms
  const auto start = std::chrono::steady_clock::now();
  const auto judgments = judge.rank(one_pair());
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(judgments[0].status, JudgmentStatus::ok);
  EXPECT_GE(elapsed, 1.0);  // waited as told
  EXPECT_EQ(judge.stats().requests, 3);
  EXPECT_EQ(judge.stats().retries, 1);
}

TEST(JudgeHttp, StallPastTheTimeoutIsRetried) {
  // The first request stalls for 3x the 0.3 s timeout; the retry is answered at once.
  FakeServer server([](int number, const httplib::Request& request, httplib::Response& response) {
    if (number == 0) std::this_thread::sleep_for(std::chrono::milliseconds(900));
    response.set_content(completion(honest_verdict(request)), "application/json");
  });
  HttpJudge judge(test_config(server.base_url(), 0.3));
  const auto judgments = judge.rank(one_pair());
  EXPECT_EQ(judgments[0].status, JudgmentStatus::ok);
  EXPECT_EQ(judgments[0].order, (std::vector<std::int64_t>{1, 0}));
  EXPECT_EQ(judge.stats().requests, 3);
  EXPECT_EQ(judge.stats().retries, 1);
  EXPECT_EQ(judge.stats().answered, 2);
}

TEST(JudgeHttp, ServerThatAlwaysStallsFails) {
  FakeServer server([](int, const httplib::Request& request, httplib::Response& response) {
    std::this_thread::sleep_for(std::chrono::milliseconds(700));
    response.set_content(completion(honest_verdict(request)), "application/json");
  });
  HttpJudgeConfig config = test_config(server.base_url(), 0.3);
  config.max_retries = 1;
  HttpJudge judge(config);
  const auto judgments = judge.rank(one_pair());
  EXPECT_EQ(judgments[0].status, JudgmentStatus::failed);
  EXPECT_NE(judgments[0].reason.find("request failed"), std::string::npos) << judgments[0].reason;
  EXPECT_EQ(judge.stats().requests, 4);
  EXPECT_EQ(judge.stats().retries, 2);
  EXPECT_EQ(judge.stats().answered, 0);
}

TEST(JudgeHttp, ClosedConnectionIsRetriedThenFails) {
  ClosingServer server;
  HttpJudge judge(test_config(server.base_url()));
  const auto judgments = judge.rank(one_pair());
  EXPECT_EQ(judgments[0].status, JudgmentStatus::failed);
  EXPECT_NE(judgments[0].reason.find("request failed"), std::string::npos) << judgments[0].reason;
  EXPECT_EQ(judge.stats().requests, 6);  // 2 questions x (1 + 2 retries)
  EXPECT_EQ(judge.stats().retries, 4);
  EXPECT_GE(server.accepted(), 6);
}

TEST(JudgeHttp, RefusedConnectionIsRetriedThenFails) {
  // A port that was free a moment ago and that nobody listens on: connections are refused.
  const int probe = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(probe, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  socklen_t length = sizeof address;
  ::getsockname(probe, reinterpret_cast<sockaddr*>(&address), &length);
  ::close(probe);
  HttpJudge judge(test_config("http://127.0.0.1:" + std::to_string(ntohs(address.sin_port)) + "/v1"));
  const auto judgments = judge.rank(one_pair());
  EXPECT_EQ(judgments[0].status, JudgmentStatus::failed);
  EXPECT_NE(judgments[0].reason.find("request failed"), std::string::npos) << judgments[0].reason;
  EXPECT_EQ(judge.stats().requests, 6);
  EXPECT_EQ(judge.stats().retries, 4);
}

TEST(JudgeHttp, MixedBatchCountsAreExact) {
  // Per prompt, by its text: honest, garbage verdicts, or always 500.
  FakeServer server([](int, const httplib::Request& request, httplib::Response& response) {
    const std::string message = nlohmann::json::parse(request.body)["messages"][1]["content"];
    if (message.find("Q: broken") != std::string::npos) {
      response.status = 500;
      return;
    }
    if (message.find("Q: chatty") != std::string::npos) {
      response.set_content(completion("Response A is better because..."), "application/json");
      return;
    }
    response.set_content(completion(honest_verdict(request)), "application/json");
  });
  HttpJudgeConfig config = test_config(server.base_url());
  // cpp-httplib 0.11's server listens with a backlog of 5: more simultaneous connects can be
  // dropped on a loaded machine (SYN retried after 1 s), which would add retries here.
  config.max_concurrent = 4;
  HttpJudge judge(config);
  const auto judgments = judge.rank({{"a", "fine", {"1", "2"}},
                                     {"b", "chatty", {"1", "2", "3"}},
                                     {"c", "broken", {"1", "2"}},
                                     {"d", "fine", {"4", "3", "2"}},
                                     {"e", "fine", {"1", "2", "3", "4", "5"}}});
  EXPECT_EQ(judgments[0].status, JudgmentStatus::ok);
  EXPECT_EQ(judgments[1].status, JudgmentStatus::abstained);
  EXPECT_EQ(judgments[2].status, JudgmentStatus::failed);
  EXPECT_EQ(judgments[3].status, JudgmentStatus::ok);
  EXPECT_EQ(judgments[3].order, (std::vector<std::int64_t>{0, 1, 2}));
  EXPECT_EQ(judgments[4].status, JudgmentStatus::failed);  // more than 4 candidates
  EXPECT_NE(judgments[4].reason.find("at most 4"), std::string::npos);
  const JudgeStats stats = judge.stats();
  // a: 2, b: 6, c: 2 x 3 attempts, d: 6, e: none.
  EXPECT_EQ(stats.requests, 2 + 6 + 6 + 6);
  EXPECT_EQ(stats.retries, 4);
  EXPECT_EQ(stats.ok, 2);
  EXPECT_EQ(stats.abstained, 1);
  EXPECT_EQ(stats.failed, 2);
}

TEST(JudgeHttp, ApiKeyIsSentButNeverReported) {
  const std::string key = "sk-selm-test-4f1c9e27b6";
  ::setenv("SELM_TEST_JUDGE_KEY", key.c_str(), 1);
  // A server that rejects the key and quotes it back, as some APIs do.
  FakeServer server([](int, const httplib::Request& request, httplib::Response& response) {
    response.status = 401;
    response.set_content("{\"error\": \"Incorrect API key: " + request.get_header_value("Authorization") + "\"}",
                         "application/json");
  });
  HttpJudgeConfig config = test_config(server.base_url());
  config.api_key_env = "SELM_TEST_JUDGE_KEY";
  HttpJudge judge(config);
  const auto judgments = judge.rank(one_pair());
  ::unsetenv("SELM_TEST_JUDGE_KEY");
  EXPECT_EQ(server.authorizations().front(), "Bearer " + key);
  EXPECT_EQ(judgments[0].status, JudgmentStatus::failed);
  EXPECT_NE(judgments[0].reason.find("HTTP 401"), std::string::npos);
  EXPECT_NE(judgments[0].reason.find("[redacted]"), std::string::npos) << judgments[0].reason;
  EXPECT_EQ(judgment_to_json(judgments[0]).dump().find(key), std::string::npos);
}

TEST(JudgeHttp, BadSettingsNameTheKey) {
  HttpJudgeConfig config = test_config("ftp://127.0.0.1/v1");
  try {
    HttpJudge judge(config);
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("judge.http.base_url"), std::string::npos);
  }
  config = test_config("http://127.0.0.1:9/v1");
  config.api_key_env = "SELM_TEST_SURELY_UNSET_VARIABLE";
  ::unsetenv("SELM_TEST_SURELY_UNSET_VARIABLE");
  try {
    HttpJudge judge(config);
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("judge.http.api_key_env"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("SELM_TEST_SURELY_UNSET_VARIABLE"), std::string::npos);
  }
  const std::string message = test::input_error_of([] { load_config({}, {"judge.http.max_response_bytes=0"}); });
  EXPECT_NE(message.find("judge.http.max_response_bytes"), std::string::npos) << message;
}

}  // namespace
}  // namespace selm
