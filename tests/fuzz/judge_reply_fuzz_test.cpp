// What judges send back: the http judge's response bodies and verdicts, and the command judge's
// reply lines. A body is read or refused with an InputError (that exchange fails); a reply line
// never throws (a bad one fails its judgment). Every judgment must be writable to JSONL.
#include <gtest/gtest.h>

#include <cctype>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "fuzz/fuzz_harness.hpp"
#include "selm/judge/command_judge.hpp"
#include "selm/judge/http_judge.hpp"
#include "selm/judge/judgment.hpp"
#include "selm/judge/pairwise.hpp"
#include "selm/util/error.hpp"

namespace selm {
namespace SELM_UNITY_ID {

// A judgment reaches the judgments file through judgment_to_json(...).dump().
void expect_writable(const Judgment& judgment) { (void)judgment_to_json(judgment).dump(); }

const std::vector<std::string> kJudgeDictionary = {
    "\"choices\"", "\"message\"", "\"content\"", "\"role\"", "\"assistant\"", "\"index\"", "\"finish_reason\"",
    "\"id\"", "\"scores\"", "\"ranking\"", "\"error\"", "\"A\"", "\"B\"", "\"A.\"", "\" B \"", "[", "]", "{", "}",
    ": ", ", ", "\"\\u0000\"", "\"\\ud800\"", "\"\\u00e9\"",
};

TEST(FuzzJudgeReplies, HttpBodies) {
  const std::vector<std::string> corpus = {
      R"({"id": "chatcmpl-1", "object": "chat.completion", "choices": [{"index": 0, "message": {"role": "assistant", "content": "A"}, "finish_reason": "stop"}], "usage": {"prompt_tokens": 50, "completion_tokens": 1}})",
      R"({"choices": [{"message": {"content": " B. "}}]})",
      R"({"choices": [{"message": {"content": "I think A is better"}}, {"message": {"content": "B"}}]})",
      R"({"error": {"message": "rate limited", "type": "requests"}})",
  };
  const auto report = fuzz::run_fuzz(
      "http_body", corpus,
      [](const std::string& body) {
        std::string content;
        try {
          content = chat_completion_content(body);
        } catch (const InputError& error) {
          expect_writable(failed_judgment(error.what()));  // how HttpJudge reports it
          throw;
        }
        const auto verdict = parse_pair_verdict(content);
        if (!verdict) {
          expect_writable(abstained_judgment("unparseable verdict (expected A or B): '" + content.substr(0, 200) + "'"));
          return;
        }
        const double outcome = pair_outcome(*verdict, PairVerdict::second);
        expect_writable(judgment_from_pairwise(2, {{0, 1}}, {outcome}));
      },
      4000, 20261202, kJudgeDictionary);
  EXPECT_EQ(report.other, 0u);
}

TEST(FuzzJudgeReplies, Verdicts) {
  const std::vector<std::string> corpus = {"A", "B", "A.", " B.\n", "a", "AB", "Answer: A", "\tA\t", ""};
  const auto report = fuzz::run_fuzz(
      "pair_verdict", corpus,
      [](const std::string& reply) {
        const auto verdict = parse_pair_verdict(reply);
        if (verdict) {
          // Strict parsing: nothing but A or B, an optional '.', and whitespace.
          std::string letters;
          for (const char c : reply) {
            if (!std::isspace(static_cast<unsigned char>(c))) letters += c;
          }
          if (letters != "A" && letters != "B" && letters != "A." && letters != "B.") {
            throw std::logic_error("accepted as a verdict: " + fuzz::escape_excerpt(reply));
          }
        }
      },
      4000);
  EXPECT_EQ(report.other, 0u);
}

TEST(FuzzJudgeReplies, CommandReplyLines) {
  const JudgeRequest request{"q7", "Which is kinder?", {"meh", "good good", "good"}};
  const std::vector<std::string> corpus = {
      R"({"id": "q7", "scores": [0.1, 2.5, 1]})",
      R"({"id": "q7", "ranking": [1, 2, 0]})",
      R"({"id": "q7", "error": "model not loaded"})",
      R"({"id": "q6", "scores": [1, 2, 3]})",
      R"({"id": "q7", "scores": [1, 1, 1], "ranking": [0, 1, 2]})",
      R"({"id": "q7"})",
  };
  const auto report = fuzz::run_fuzz(
      "command_reply", corpus,
      [&](const std::string& line) {
        CommandJudgeReply reply;
        try {
          reply = judgment_from_reply_line(line, request);
        } catch (const std::exception& error) {
          // Not even an InputError: one bad reply must not end the run.
          throw std::logic_error(std::string("judgment_from_reply_line threw: ") + error.what());
        }
        expect_writable(reply.judgment);
        if (reply.judgment.is_ok() && reply.judgment.ranks.size() != request.candidates.size()) {
          throw std::logic_error("an ok judgment of another size than the request");
        }
      },
      4000, 20261202, kJudgeDictionary);
  EXPECT_EQ(report.other, 0u);
}

}  // namespace SELM_UNITY_ID
}  // namespace selm
