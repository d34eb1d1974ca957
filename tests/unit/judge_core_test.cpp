// Judgment records, ranking helpers, pairwise building blocks, input reading and the cache.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "selm/judge/judge_factory.hpp"
#include "selm/judge/judgment_cache.hpp"
#include "selm/judge/pairwise.hpp"
#include "selm/util/error.hpp"
#include "selm/util/sha256.hpp"
#include "support/test_support.hpp"

namespace selm {
namespace SELM_UNITY_ID {

using Order = std::vector<std::int64_t>;

TEST(JudgeCore, Sha256MatchesKnownDigests) {
  // Reference digests from Python's hashlib.
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256_hex(std::string(55, 'a')), "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318");
  EXPECT_EQ(sha256_hex(std::string(56, 'a')), "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a");
  EXPECT_EQ(sha256_hex(std::string(64, 'a')), "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb");
  EXPECT_EQ(sha256_hex(std::string(1000, 'a')), "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3");
}

TEST(JudgeCore, ScoresGiveOrderAndSharedRanks) {
  const Judgment judgment = judgment_from_scores({0.5, 2.0, 0.5, -1.0, 2.0});
  EXPECT_EQ(judgment.status, JudgmentStatus::ok);
  EXPECT_EQ(judgment.order, (Order{1, 4, 0, 2, 3}));
  EXPECT_EQ(judgment.ranks, (Order{3, 1, 3, 5, 1}));
}

TEST(JudgeCore, OrderMustBeAPermutation) {
  EXPECT_EQ(judgment_from_order({2, 0, 1}, 3).ranks, (Order{2, 3, 1}));
  EXPECT_THROW(judgment_from_order({0, 0, 1}, 3), InputError);
  EXPECT_THROW(judgment_from_order({0, 3, 1}, 3), InputError);
  EXPECT_THROW(judgment_from_order({0, 1}, 3), InputError);
}

TEST(JudgeCore, JsonRoundTrip) {
  Judgment judgment = judgment_from_scores({1.0, 3.0});
  judgment.id = "x7";
  judgment.judge_id = "lexicon";
  judgment.config_hash = "0123456789abcdef";
  const nlohmann::json record = judgment_to_json(judgment);
  EXPECT_EQ(record["status"], "ok");
  EXPECT_EQ(record["order"], nlohmann::json({1, 0}));
  const Judgment back = judgment_from_json(record);
  EXPECT_EQ(back.id, "x7");
  EXPECT_EQ(back.order, judgment.order);
  EXPECT_EQ(back.ranks, judgment.ranks);
  EXPECT_EQ(*back.scores, *judgment.scores);

  Judgment abstained = abstained_judgment("could not tell");
  const nlohmann::json abstained_record = judgment_to_json(abstained);
  EXPECT_EQ(abstained_record["status"], "abstained");
  EXPECT_EQ(abstained_record["reason"], "could not tell");
  EXPECT_FALSE(abstained_record.contains("order"));  // an undecided judgment carries no ranking
}

TEST(JudgeCore, ReadsRequestsAndNamesBadLines) {
  test::TempDir dir;
  test::write_text(dir / "ok.jsonl",
                   "{\"id\": \"a\", \"prompt\": \"p\", \"candidates\": [\"x\", \"y\"]}\n"
                   "{\"prompt\": \"q\", \"candidates\": [\"z\"]}\n");
  const auto requests = read_judge_requests(dir / "ok.jsonl");
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0].id, "a");
  EXPECT_EQ(requests[1].id, "1");
  EXPECT_EQ(requests[1].candidates, (std::vector<std::string>{"z"}));

  const std::pair<std::string, std::string> bad_lines[] = {
      {"{\"candidates\": [\"x\"]}", "key 'prompt'"},
      {"{\"prompt\": \"p\", \"candidates\": \"x\"}", "key 'candidates'"},
      {"{\"prompt\": \"p\", \"candidates\": [1]}", "key 'candidates'"},
      {"{\"prompt\": \"p\", \"candidates\": []}", "key 'candidates'"},
      {"{\"id\": [1], \"prompt\": \"p\", \"candidates\": [\"x\"]}", "key 'id'"},
      // The first line took id "0" from its position: judgments could not tell the two apart.
      {"{\"id\": 0, \"prompt\": \"p\", \"candidates\": [\"x\"]}", "'0' is the id of line 1 too"},
  };
  for (const auto& [line, key] : bad_lines) {
    test::write_text(dir / "bad.jsonl", "{\"prompt\": \"p\", \"candidates\": [\"x\"]}\n" + line + "\n");
    try {
      read_judge_requests(dir / "bad.jsonl");
      FAIL() << "accepted " << line;
    } catch (const InputError& e) {
      const std::string message = e.what();
      EXPECT_NE(message.find("bad.jsonl:2: "), std::string::npos) << message;
      EXPECT_NE(message.find(key), std::string::npos) << message;
    }
  }
}

TEST(JudgeCore, PromptTemplateIsFilledOnce) {
  EXPECT_EQ(render_pairwise_prompt("Q={prompt} A={response_a} B={response_b}", "why", "{response_b}", "no"),
            "Q=why A={response_b} B=no");
  EXPECT_THROW(render_pairwise_prompt("{prompt} {response_a}", "p", "a", "b"), InputError);
}

TEST(JudgeCore, VerdictParsingIsStrict) {
  EXPECT_EQ(parse_pair_verdict("A"), PairVerdict::first);
  EXPECT_EQ(parse_pair_verdict(" B.\n"), PairVerdict::second);
  for (const char* reply : {"", "a", "AB", "A or B", "Response A", "**A**", "A..", "The answer is B", "C"}) {
    EXPECT_FALSE(parse_pair_verdict(reply).has_value()) << reply;
  }
}

TEST(JudgeCore, PairOutcomesDebiasPosition) {
  EXPECT_EQ(pair_outcome(PairVerdict::first, PairVerdict::second), 1.0);   // i wins in both orders
  EXPECT_EQ(pair_outcome(PairVerdict::second, PairVerdict::first), 0.0);   // j wins in both orders
  EXPECT_EQ(pair_outcome(PairVerdict::first, PairVerdict::first), 0.5);    // always the first shown
  EXPECT_EQ(pair_outcome(PairVerdict::second, PairVerdict::second), 0.5);  // always the second shown
}

TEST(JudgeCore, RankingFromPairwiseWins) {
  const std::vector<std::pair<std::size_t, std::size_t>> pairs = {{0, 1}, {0, 2}, {1, 2}};
  // 2 beats both, 0 and 1 tie: wins 0 = 0.5, 1 = 0.5, 2 = 2.
  const Judgment judgment = judgment_from_pairwise(3, pairs, {0.5, 0.0, 0.0});
  EXPECT_EQ(judgment.status, JudgmentStatus::ok);
  EXPECT_EQ(judgment.order, (Order{2, 0, 1}));
  EXPECT_EQ(judgment.ranks, (Order{2, 2, 1}));
  // All tied: no preference, abstain.
  const Judgment tied = judgment_from_pairwise(3, pairs, {0.5, 0.5, 0.5});
  EXPECT_EQ(tied.status, JudgmentStatus::abstained);
  EXPECT_NE(tied.reason.find("3 of 3 pairs"), std::string::npos) << tied.reason;
}

TEST(JudgeCore, RetryDelays) {
  EXPECT_DOUBLE_EQ(retry_delay_seconds(0, 1.0, 30.0, 1.0, std::nullopt), 1.0);
  EXPECT_DOUBLE_EQ(retry_delay_seconds(3, 1.0, 30.0, 1.0, std::nullopt), 8.0);
  EXPECT_DOUBLE_EQ(retry_delay_seconds(3, 1.0, 30.0, 0.0, std::nullopt), 4.0);  // jitter floor: half
  EXPECT_DOUBLE_EQ(retry_delay_seconds(10, 1.0, 30.0, 1.0, std::nullopt), 30.0);  // capped
  EXPECT_DOUBLE_EQ(retry_delay_seconds(10, 1.0, 30.0, 0.3, 120.0), 120.0);       // Retry-After as sent
  EXPECT_EQ(parse_retry_after("7"), 7.0);
  EXPECT_EQ(parse_retry_after("0.25"), 0.25);
  EXPECT_FALSE(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT").has_value());
  EXPECT_FALSE(parse_retry_after("-1").has_value());
  EXPECT_FALSE(parse_retry_after("").has_value());
}

TEST(JudgeCore, CacheReusesJudgmentsAcrossRuns) {
  test::TempDir dir;
  JudgeConfig config;
  config.cache_dir = (dir / "cache").string();
  const std::vector<JudgeRequest> batch = {{"a", "p", {"good", "bad"}}, {"b", "p", {"bad", "good"}}};
  std::vector<Judgment> first;
  {
    auto judge = make_judge(config);
    first = judge->rank(batch);
    EXPECT_EQ(judge->stats().cache_hits, 0);
    EXPECT_EQ(judge->stats().requests, 2);
  }
  {
    auto judge = make_judge(config);  // a rerun: a new process would see the same file
    const auto second = judge->rank(batch);
    EXPECT_EQ(judge->stats().cache_hits, 2);
    EXPECT_EQ(judge->stats().requests, 0);
    EXPECT_EQ(judge->stats().ok, 2);
    ASSERT_EQ(second.size(), 2u);
    EXPECT_EQ(second[1].order, first[1].order);
    EXPECT_EQ(second[1].id, "b");
    // Same prompt, candidates in another order: a different key, judged afresh.
    const auto swapped = judge->rank({{"c", "p", {"good", "bad", "meh"}}});
    EXPECT_FALSE(swapped[0].cached);
  }
  {
    auto judge = make_judge(config, JudgeBuildOptions{/*use_cache=*/false});
    judge->rank(batch);
    EXPECT_EQ(judge->stats().cache_hits, 0);
    EXPECT_EQ(judge->stats().requests, 2);
  }
  // Append-only JSONL, one record per distinct request: a, b, c.
  std::size_t lines = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir / "cache")) {
    const std::string text = test::read_text(entry.path());
    lines += static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n'));
  }
  EXPECT_EQ(lines, 3u);
}

TEST(JudgeCore, FactoryRejectsUnknownTypesAndMissingSettings) {
  JudgeConfig config;
  config.type = JudgeType::reward_model;  // without judge.reward_model.path
  try {
    make_judge(config);
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("judge.reward_model.path"), std::string::npos) << e.what();
  }
  config.type = static_cast<JudgeType>(-1);  // no such judge
  EXPECT_THROW(make_judge(config), InputError);
}

}  // namespace
}  // namespace selm
