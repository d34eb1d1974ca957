// The lexicon judge against scores computed by hand from third_party/vader/vader_lexicon.txt.
//
// Lexicon lines used (TOKEN, mean rating):
//   good 1.9   great 3.1   love 3.2   bad -2.5   terrible -2.1   ":)" 2.0   meh -0.3   matters 0.1
//   "this", "is", "it", "not", "very", "slightly" are not in the lexicon (valence 0).
// compound(S) = S / sqrt(S^2 + 15), rounded to 6 decimals.
#include <gtest/gtest.h>

#include "selm/judge/lexicon_judge.hpp"
#include "selm/util/error.hpp"
#include "support/test_support.hpp"

namespace selm {
namespace SELM_UNITY_ID {

const SentimentLexicon& vader() {
  static const SentimentLexicon lexicon = SentimentLexicon::load(SentimentLexicon::default_path());
  return lexicon;
}

LexiconJudge positive_judge() { return LexiconJudge(LexiconJudgeConfig{}); }

TEST(JudgeLexicon, LoadsTheVendoredLexicon) {
  EXPECT_DOUBLE_EQ(vader().valence("good"), 1.9);
  EXPECT_DOUBLE_EQ(vader().valence("terrible"), -2.1);
  // "ok" has two lines (1.6 at line 350, 1.2 at line 4892): the later wins.
  EXPECT_DOUBLE_EQ(vader().valence("ok"), 1.2);
  EXPECT_DOUBLE_EQ(vader().valence("not"), 0.0);
  EXPECT_GT(vader().size(), 7000u);
}

TEST(JudgeLexicon, ScoresCheckedByHand) {
  const LexiconJudge judge = positive_judge();
  // S = 1.9 -> 1.9 / sqrt(3.61 + 15) = 0.440434
  EXPECT_DOUBLE_EQ(judge.score("This is good."), 0.440434);
  // Negation: S = -0.74 * 1.9 = -1.406 -> -1.406 / sqrt(1.976836 + 15) = -0.341238
  EXPECT_DOUBLE_EQ(judge.score("This is not good"), -0.341238);
  // Booster: S = 1.9 + 0.293 = 2.193 -> 0.492725
  EXPECT_DOUBLE_EQ(judge.score("very good"), 0.492725);
  // Both: S = -0.74 * 2.193 = -1.62282 -> -0.386456
  EXPECT_DOUBLE_EQ(judge.score("it is NOT very good"), -0.386456);
  // Punctuation stripped, case folded: "Great," -> great 3.1, "LOVE" -> love 3.2, S = 6.3 -> 0.851896
  EXPECT_DOUBLE_EQ(judge.score("Great, I LOVE it!"), 0.851896);
  // Emoticon matched as written: S = -2.5 + 2.0 = -0.5 -> -0.128037
  EXPECT_DOUBLE_EQ(judge.score("bad :)"), -0.128037);
  // Dampener: S = -(2.5 - 0.293) = -2.207 -> -0.495101
  EXPECT_DOUBLE_EQ(judge.score("slightly bad"), -0.495101);
  // Length: two sentiment words, S = 3.8 -> 0.700349; neutral words change nothing.
  EXPECT_DOUBLE_EQ(judge.score("good good"), 0.700349);
  EXPECT_DOUBLE_EQ(judge.score("this is good and it is long and it is about things"), 0.440434);
  // "nothing" negates a word up to 3 tokens on: S = -0.74 * 0.1 = -0.074 -> -0.019103
  EXPECT_DOUBLE_EQ(judge.score("nothing here matters"), -0.019103);
  EXPECT_DOUBLE_EQ(judge.score("the film was long"), 0.0);
}

TEST(JudgeLexicon, RulesCanBeSwitchedOff) {
  LexiconJudgeConfig config;
  config.negation = false;
  config.intensifiers = false;
  const LexiconJudge judge(config);
  EXPECT_DOUBLE_EQ(judge.score("not very good"), 0.440434);
}

TEST(JudgeLexicon, NegativeTargetFlipsTheScore) {
  LexiconJudgeConfig config;
  config.target = SentimentTarget::negative;
  const LexiconJudge judge(config);
  // terrible -2.1 -> -2.1 / sqrt(4.41 + 15) = -0.476658, flipped.
  EXPECT_DOUBLE_EQ(judge.score("terrible"), 0.476658);
  EXPECT_DOUBLE_EQ(judge.score("good"), -0.440434);
}

TEST(JudgeLexicon, RanksBestFirstAndTiesShareARank) {
  LexiconJudge judge = positive_judge();
  const auto judgments = judge.rank({{"p1", "prompt", {"bad", "good", "good good", "good", "meh"}}});
  ASSERT_EQ(judgments.size(), 1u);
  const Judgment& judgment = judgments[0];
  EXPECT_EQ(judgment.status, JudgmentStatus::ok);
  EXPECT_EQ(judgment.id, "p1");
  EXPECT_EQ(judgment.judge_id, "lexicon");
  EXPECT_EQ(judgment.config_hash.size(), 16u);
  // Scores: bad -2.5 -> -0.542326, good 0.440434, good good 0.700349, meh -0.3 -> -0.077228.
  // "good" twice ties at rank 2; rank 3 is skipped.
  EXPECT_EQ(judgment.order, (std::vector<std::int64_t>{2, 1, 3, 4, 0}));
  EXPECT_EQ(judgment.ranks, (std::vector<std::int64_t>{5, 2, 1, 2, 4}));
  ASSERT_TRUE(judgment.scores.has_value());
  EXPECT_DOUBLE_EQ((*judgment.scores)[1], 0.440434);
  EXPECT_DOUBLE_EQ((*judgment.scores)[4], -0.077228);
  EXPECT_DOUBLE_EQ((*judgment.scores)[0], -0.542326);
  EXPECT_EQ(judge.stats().ok, 1);
}

TEST(JudgeLexicon, NegativeTargetReversesTheRanking) {
  LexiconJudgeConfig config;
  config.target = SentimentTarget::negative;
  LexiconJudge judge(config);
  const auto judgments = judge.rank({{"p", "prompt", {"good", "terrible", "meh"}}});
  EXPECT_EQ(judgments[0].order, (std::vector<std::int64_t>{1, 2, 0}));
  EXPECT_NE(judge.config_hash(), positive_judge().config_hash());
}

TEST(JudgeLexicon, MalformedLexiconNamesTheLine) {
  test::TempDir dir;
  test::write_text(dir / "lex.txt", "good\t1.9\t0.3\t[2]\nbad\tnot-a-number\t0\t[]\n");
  try {
    SentimentLexicon::load(dir / "lex.txt");
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("lex.txt:2:"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace selm
