// Judges that misbehave over a whole `selm train` run.
//
// An http judge server answers 30% of its requests with a fault (500, 429 with Retry-After, a
// stall past the client's timeout, a connection closed mid-answer, a garbage body, a verdict
// naming a candidate that does not exist); a command judge crashes, hangs or writes garbage. The
// run must finish; every judgment without a real verdict must be failed or abstained; the round's
// pairing.json must count exactly what the judge answered, as the server (or the process) logged
// it; and no preference may carry a label the judge did not give. The http run also holds an API
// key, which must appear in no file of the run, no log and no message, although the faulty server
// echoes it back in its error bodies.
#include <gtest/gtest.h>
#include <httplib.h>

#include <algorithm>
#include <chrono>
#include <iostream>
#include <cstdlib>
#include <map>
#include <mutex>
#include <random>
#include <thread>
#include <tuple>

#include <nlohmann/json.hpp>

#include "support/online_run_fixture.hpp"
#include "support/test_support.hpp"

namespace selm {
namespace SELM_UNITY_ID {

using test::read_text;
using test::run_selm;
namespace fs = std::filesystem;

// A made-up key, long and unusual enough that finding it anywhere can only mean a leak.
constexpr char kApiKey[] = "sk-selm-test-7f3c9e21a54b4d0e8c6f19b2d7a3e5c0";
constexpr char kApiKeyVariable[] = "SELM_TEST_JUDGE_API_KEY";

std::string between(const std::string& text, const std::string& open, const std::string& close) {
  const std::size_t begin = text.find(open);
  const std::size_t end = text.find(close, begin == std::string::npos ? 0 : begin + open.size());
  if (begin == std::string::npos || end == std::string::npos) return "";
  return text.substr(begin + open.size(), end - begin - open.size());
}

// What one exchange (a prompt and two responses in one order) finally got from the judge.
enum class Final { verdict, failed, unparseable };

// Per prompt, the judgment that the exchanges' final answers call for: any failed exchange fails
// the judgment, else any unparseable verdict makes it abstain (the http judge's rules).
std::string expected_status(const std::vector<Final>& exchanges) {
  bool unparseable = false;
  for (const Final final : exchanges) {
    if (final == Final::failed) return "failed";
    unparseable = unparseable || final == Final::unparseable;
  }
  return unparseable ? "abstained" : "ok";
}

// The honest verdict: the longer response is better. Equal lengths answer "A", which follows the
// position in both orders and so makes a tie.
std::string honest_letter(const std::string& first, const std::string& second) {
  return first.size() >= second.size() ? "A" : "B";
}

// A chat-completions server on 127.0.0.1 answering 30% of its requests with a fault, drawn from
// a seeded generator. It logs every answer under the exchange it belongs to.
class FaultyJudgeServer {
 public:
  enum class Answer { verdict, server_error, rate_limited, stalled, closed, garbage, unknown_candidate };
  using Key = std::tuple<std::string, std::string, std::string>;  // prompt, first, second

  FaultyJudgeServer(double stall_seconds, std::uint64_t seed) : stall_seconds_(stall_seconds), random_(seed) {
    server_.new_task_queue = [] { return new httplib::ThreadPool(16); };
    server_.Post("/v1/chat/completions", [this](const httplib::Request& request, httplib::Response& response) {
      answer(request, response);
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
  }
  ~FaultyJudgeServer() {
    server_.stop();
    thread_.join();
  }
  std::string base_url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/v1"; }
  std::map<Key, std::vector<Answer>> log() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return log_;
  }
  std::map<Answer, int> answered() const {
    std::lock_guard<std::mutex> lock(mutex_);
    std::map<Answer, int> counts;
    for (const auto& [key, answers] : log_) {
      for (const Answer answer : answers) ++counts[answer];
    }
    return counts;
  }
  std::vector<std::string> authorizations() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return authorizations_;
  }
  static bool is_retried(Answer answer) {
    return answer == Answer::server_error || answer == Answer::rate_limited || answer == Answer::stalled ||
           answer == Answer::closed;
  }

 private:
  void answer(const httplib::Request& request, httplib::Response& response) {
    const auto body = nlohmann::json::parse(request.body);
    const std::string message = body["messages"].back()["content"];
    const Key key{between(message, "<P>", "</P>"), between(message, "<A>", "</A>"), between(message, "<B>", "</B>")};
    const std::string authorization = request.get_header_value("Authorization");
    Answer kind = Answer::verdict;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      const double draw = std::uniform_real_distribution<double>(0.0, 1.0)(random_);
      // 30% faults, 5% of each kind.
      const Answer faults[] = {Answer::server_error, Answer::rate_limited, Answer::stalled,
                               Answer::closed,       Answer::garbage,      Answer::unknown_candidate};
      if (draw < 0.30) kind = faults[static_cast<int>(draw / 0.05)];
      log_[key].push_back(kind);
      authorizations_.push_back(authorization);
    }
    const std::string letter = honest_letter(std::get<1>(key), std::get<2>(key));
    const auto completion = [](const std::string& content) {
      return nlohmann::json{{"choices", {{{"message", {{"role", "assistant"}, {"content", content}}}}}}}.dump();
    };
    switch (kind) {
      case Answer::verdict:
        response.set_content(completion(letter), "application/json");
        break;
      case Answer::server_error:
        // A careless server echoing the request's credentials: the client must not repeat them.
        response.status = 500;
        // Padded so that a 200-character excerpt of the body would cut the key in two.
        response.set_content(std::string(178, '.') + " " + authorization, "text/plain");
        break;
      case Answer::rate_limited:
        response.status = 429;
        response.set_header("Retry-After", "1");
        response.set_content("slow down, " + authorization, "text/plain");
        break;
      case Answer::stalled:
        std::this_thread::sleep_for(std::chrono::duration<double>(stall_seconds_));
        response.set_content(completion(letter), "application/json");
        break;
      case Answer::closed:
        // Headers promise a body that never comes: the connection closes mid-answer.
        response.set_content_provider(
            64, "application/json", [](std::size_t, std::size_t, httplib::DataSink&) { return false; });
        break;
      case Answer::garbage:
        response.set_content("\x01<html>not json " + authorization + "\xff", "application/json");
        break;
      case Answer::unknown_candidate:
        response.set_content(completion("C"), "application/json");
        break;
    }
  }

  double stall_seconds_;
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
  mutable std::mutex mutex_;
  std::mt19937_64 random_;
  std::map<Key, std::vector<Answer>> log_;
  std::vector<std::string> authorizations_;
};

class JudgeFaults : public test::OnlineRunFixture {
 protected:
  // The prompt of each request of round 1, in request order (the judgment ids).
  static std::vector<std::string> round_prompts(const std::string& run) {
    std::vector<std::string> prompts;
    for (const nlohmann::json& line : test::read_json_lines(run_dir(run) / "round-1" / "prompts.jsonl")) {
      prompts.push_back(line.at("record").at("prompt").get<std::string>());
    }
    return prompts;
  }

  // Checks round 1 of `run` against the judge's own account: expected[i] is the status that
  // prompt i's judgment must have.
  static void expect_round_matches_judge(const std::string& run, const std::vector<std::string>& expected) {
    const fs::path round = run_dir(run) / "round-1";
    const auto judgments = test::read_json_lines(round / "judgments.jsonl");
    ASSERT_EQ(judgments.size(), expected.size());
    std::map<std::string, int> counts;
    for (const nlohmann::json& judgment : judgments) {
      const std::size_t id = std::stoul(judgment.at("id").get<std::string>());
      ASSERT_LT(id, expected.size());
      EXPECT_EQ(judgment.at("status").get<std::string>(), expected[id]) << judgment.dump();
      ++counts[expected[id]];
    }
    const nlohmann::json pairing = nlohmann::json::parse(read_text(round / "pairing.json"));
    EXPECT_EQ(pairing.at("prompts").get<int>(), static_cast<int>(expected.size()));
    EXPECT_EQ(pairing.at("dropped_failed").get<int>(), counts["failed"]) << pairing.dump();
    EXPECT_EQ(pairing.at("dropped_abstained").get<int>(), counts["abstained"]) << pairing.dump();
    EXPECT_EQ(pairing.at("pairs").get<int>() + pairing.at("dropped_ties").get<int>() +
                  pairing.at("dropped_empty").get<int>(),
              counts["ok"])
        << pairing.dump();

    // Every preference comes from a prompt the judge really ranked, and says what it said: the
    // chosen response is a longest candidate, the rejected one a shortest.
    const std::vector<std::string> prompts = round_prompts(run);
    std::map<std::string, std::string> status_of_prompt;
    for (std::size_t i = 0; i < prompts.size(); ++i) status_of_prompt[prompts[i]] = expected[i];
    const auto preferences = test::read_json_lines(round / "preferences.jsonl");
    EXPECT_EQ(static_cast<int>(preferences.size()), pairing.at("pairs").get<int>());
    for (const nlohmann::json& preference : preferences) {
      const std::string prompt = preference.at("prompt").back().at("content").get<std::string>();
      EXPECT_EQ(status_of_prompt[prompt], "ok") << preference.dump();
      const std::string chosen = preference.at("chosen").get<std::string>();
      const std::string rejected = preference.at("rejected").get<std::string>();
      EXPECT_GT(chosen.size(), rejected.size()) << preference.dump();
    }
  }
};

// Every file under `dir`, as (path, bytes).
std::vector<std::pair<fs::path, std::string>> all_files(const fs::path& dir) {
  std::vector<std::pair<fs::path, std::string>> files;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    if (entry.is_regular_file()) files.emplace_back(entry.path(), read_text(entry.path()));
  }
  return files;
}

TEST_F(JudgeFaults, HttpJudgeThroughAFaultyServer) {
  FaultyJudgeServer server(/*stall_seconds=*/3.0, /*seed=*/20261202);
  ::setenv(kApiKeyVariable, kApiKey, 1);
  // Timeouts of 2 s: long enough that a loaded machine does not time out a quick answer, short
  // enough that the 3 s stalls do. Quick retries (Retry-After is honoured as sent).
  const std::vector<std::string> http = {
      "judge.type=http", "judge.http.base_url=" + server.base_url(), "judge.http.model=faulty",
      std::string("judge.http.api_key_env=") + kApiKeyVariable, "judge.http.timeout_seconds=2",
      "judge.http.max_retries=3", "judge.http.backoff_initial_seconds=0.01", "judge.http.backoff_max_seconds=0.05",
      "judge.http.prompt_template=\"<P>{prompt}</P><A>{response_a}</A><B>{response_b}</B> A or B?\"",
      "online.rounds=1", "eval.enabled=false"};
  std::vector<std::string> args = train_args("http_faults", http);
  args.insert(args.begin(), "--verbose");  // debug lines (the retries' reasons) on the console
  args.push_back("--no-cache");
  const auto run = run_selm(args);
  ASSERT_EQ(run.exit_code, 0) << run.output;

  // The server's account, exchange by exchange: the last answer of each is what the client kept
  // (faults that are retried are followed by another request, up to max_retries of them).
  const auto log = server.log();
  std::map<std::string, std::vector<Final>> finals;
  for (const auto& [key, answers] : log) {
    ASSERT_LE(answers.size(), 4u);  // the first try and 3 retries
    for (std::size_t i = 0; i + 1 < answers.size(); ++i) EXPECT_TRUE(FaultyJudgeServer::is_retried(answers[i]));
    using Answer = FaultyJudgeServer::Answer;
    const Answer last = answers.back();
    if (FaultyJudgeServer::is_retried(last)) {
      EXPECT_EQ(answers.size(), 4u);  // gave up after 3 retries
    }
    finals[std::get<0>(key)].push_back(last == Answer::verdict             ? Final::verdict
                                       : last == Answer::unknown_candidate ? Final::unparseable
                                                                           : Final::failed);
  }
  const std::vector<std::string> prompts = round_prompts("http_faults");
  ASSERT_EQ(prompts.size(), 12u);
  std::vector<std::string> expected;
  for (const std::string& prompt : prompts) {
    ASSERT_EQ(finals.count(prompt), 1u) << prompt;
    ASSERT_EQ(finals[prompt].size(), 6u) << prompt;  // 3 candidates: 3 pairs, each in both orders
    expected.push_back(expected_status(finals[prompt]));
  }
  expect_round_matches_judge("http_faults", expected);

  // The draw really produced every kind of fault, and a mix of outcomes.
  auto answered = server.answered();
  for (const auto kind : {FaultyJudgeServer::Answer::server_error, FaultyJudgeServer::Answer::rate_limited,
                          FaultyJudgeServer::Answer::stalled, FaultyJudgeServer::Answer::closed,
                          FaultyJudgeServer::Answer::garbage, FaultyJudgeServer::Answer::unknown_candidate}) {
    EXPECT_GT(answered.count(kind) ? answered.at(kind) : 0, 0) << static_cast<int>(kind);
  }
  std::map<std::string, int> outcome_counts;
  for (const std::string& status : expected) ++outcome_counts[status];
  EXPECT_GT(outcome_counts["ok"], 0);
  EXPECT_GT(outcome_counts["failed"] + outcome_counts["abstained"], 0);
  int requests = 0;
  for (const auto& [kind, count] : answered) requests += count;
  std::cout << "http judge: " << requests << " requests; verdicts " << answered[FaultyJudgeServer::Answer::verdict]
            << ", 500 " << answered[FaultyJudgeServer::Answer::server_error] << ", 429 "
            << answered[FaultyJudgeServer::Answer::rate_limited] << ", stalls "
            << answered[FaultyJudgeServer::Answer::stalled] << ", closed " << answered[FaultyJudgeServer::Answer::closed]
            << ", garbage " << answered[FaultyJudgeServer::Answer::garbage] << ", unknown candidate "
            << answered[FaultyJudgeServer::Answer::unknown_candidate] << "; judgments ok " << outcome_counts["ok"]
            << ", failed " << outcome_counts["failed"] << ", abstained " << outcome_counts["abstained"] << "\n";

  // The key went to the server, and nowhere else: no file of the run (logs included), not the
  // console, not `selm config`'s dump, not an error message.
  for (const std::string& authorization : server.authorizations()) {
    EXPECT_EQ(authorization, std::string("Bearer ") + kApiKey);
  }
  std::vector<std::pair<fs::path, std::string>> searched = all_files(run_dir("http_faults"));
  EXPECT_GE(searched.size(), 8u);
  bool found_variable_name = false;
  // Its first 12 characters, so that a part of the key left by a cut excerpt is found too.
  const std::string key_start = std::string(kApiKey).substr(0, 12);
  for (const auto& [path, bytes] : searched) {
    EXPECT_EQ(bytes.find(key_start), std::string::npos) << path;
    found_variable_name = found_variable_name || bytes.find(kApiKeyVariable) != std::string::npos;
  }
  EXPECT_TRUE(found_variable_name);  // config.yaml names the variable
  EXPECT_EQ(run.output.find(key_start), std::string::npos);
  // The echoed key did reach the client: its retry messages quote the server's bodies.
  EXPECT_NE(run.output.find("[redacted]"), std::string::npos);

  std::vector<std::string> dump_args = {"config", "-c", path("http_faults.yaml")};
  dump_args.insert(dump_args.end(), http.begin(), http.end());
  const auto dump = run_selm(dump_args);
  EXPECT_EQ(dump.exit_code, 0) << dump.output;
  EXPECT_NE(dump.output.find(kApiKeyVariable), std::string::npos) << dump.output;
  EXPECT_EQ(dump.output.find(kApiKey), std::string::npos);
  // Bad input while the key is set: the messages name keys and variables, never the value.
  std::vector<std::string> bad_args = dump_args;
  bad_args.push_back("judge.http.timeout_seconds=-1");
  const auto bad = run_selm(bad_args);
  EXPECT_EQ(bad.exit_code, 2) << bad.output;
  EXPECT_EQ(bad.output.find(kApiKey), std::string::npos);
  ::unsetenv(kApiKeyVariable);
  // Without the variable the run does not start, and the message names the variable.
  const auto no_key = run_selm(train_args("http_no_key", http));
  EXPECT_EQ(no_key.exit_code, 2) << no_key.output;
  EXPECT_NE(no_key.output.find(kApiKeyVariable), std::string::npos) << no_key.output;
}

// A command judge that crashes on every 4th request it reads, hangs on every 7th and writes
// garbage on every 9th (counted over all of its restarts), logging what it did to a file.
constexpr char kFaultyCommandJudge[] = R"PY(
import json, os, sys, time
log_path, counter_path = sys.argv[1], sys.argv[2]
def bump():
    count = int(open(counter_path).read()) + 1 if os.path.exists(counter_path) else 1
    with open(counter_path, "w") as f:
        f.write(str(count))
    return count
def log(request_id, what):
    with open(log_path, "a") as f:
        f.write(json.dumps({"id": request_id, "answer": what}) + "\n")
for line in sys.stdin:
    request = json.loads(line)
    count = bump()
    if count % 4 == 0:
        log(request["id"], "crashed")
        os._exit(3)
    if count % 7 == 0:
        log(request["id"], "hung")
        time.sleep(60)
    if count % 9 == 0:
        log(request["id"], "garbage")
        sys.stdout.write("}{ not json\n")
        sys.stdout.flush()
        continue
    log(request["id"], "scored")
    scores = [float(len(c)) for c in request["candidates"]]
    sys.stdout.write(json.dumps({"id": request["id"], "scores": scores}) + "\n")
    sys.stdout.flush()
)PY";

TEST_F(JudgeFaults, CommandJudgeThatCrashesHangsAndWritesGarbage) {
  const std::string script = path("faulty_judge.py");
  test::write_text(script, kFaultyCommandJudge);
  const std::string log_file = path("faulty_judge_log.jsonl");
  const std::string counter_file = path("faulty_judge_count.txt");
  const nlohmann::json argv = {"/usr/bin/python3", script, log_file, counter_file};
  std::vector<std::string> args =
      train_args("command_faults", {"judge.type=command", "judge.command.argv=" + argv.dump(),
                                    "judge.command.timeout_seconds=2", "judge.command.max_restarts=100",
                                    "online.rounds=1", "eval.enabled=false"});
  args.push_back("--no-cache");
  const auto run = run_selm(args);
  ASSERT_EQ(run.exit_code, 0) << run.output;

  // The judge's account: per request id, what it did each time it read the request. A crash is
  // retried once on a fresh process; a hang is killed and garbage is kept as a failure.
  std::map<std::string, std::vector<std::string>> answers;
  for (const nlohmann::json& line : test::read_json_lines(log_file)) {
    answers[line.at("id").get<std::string>()].push_back(line.at("answer").get<std::string>());
  }
  std::vector<std::string> expected;
  std::map<std::string, int> kinds;
  for (std::size_t id = 0; id < 12; ++id) {
    const auto& tries = answers[std::to_string(id)];
    ASSERT_FALSE(tries.empty()) << id;
    ASSERT_LE(tries.size(), 2u) << id;
    if (tries.size() == 2) {
      EXPECT_EQ(tries[0], "crashed") << id;
    }
    for (const std::string& answer : tries) ++kinds[answer];
    expected.push_back(tries.back() == "scored" ? "ok" : "failed");
  }
  EXPECT_GT(kinds["crashed"], 0);
  EXPECT_GT(kinds["hung"], 0);
  EXPECT_GT(kinds["garbage"], 0);
  std::cout << "command judge: scored " << kinds["scored"] << ", crashed " << kinds["crashed"] << ", hung "
            << kinds["hung"] << ", garbage " << kinds["garbage"] << "; judgments ok "
            << std::count(expected.begin(), expected.end(), "ok") << " of " << expected.size() << "\n";
  expect_round_matches_judge("command_faults", expected);
}

}  // namespace SELM_UNITY_ID
}  // namespace selm
