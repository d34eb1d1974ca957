// Pairing decisions from judgments (hand-made ranks), run-state round trips, config fingerprints,
// and the paper recipes passing `selm config` validation.
#include <gtest/gtest.h>

#include "selm/config/config.hpp"
#include "selm/online/online_trainer.hpp"
#include "selm/online/pairing.hpp"
#include "selm/online/run_state.hpp"
#include "selm/util/error.hpp"
#include "support/test_support.hpp"

namespace selm {
namespace {

Judgment ranked(std::vector<std::int64_t> ranks) {
  Judgment judgment;
  judgment.status = JudgmentStatus::ok;
  judgment.ranks = std::move(ranks);
  return judgment;
}

TEST(OnlinePairing, BestBecomesChosenAndWorstRejected) {
  // Candidates [new, dataset chosen, dataset rejected].
  PairingDecision decision = decide_pair(ranked({2, 1, 3}));
  EXPECT_EQ(decision.outcome, PairingOutcome::pair);
  EXPECT_EQ(decision.chosen, 1);
  EXPECT_EQ(decision.rejected, 2);
  decision = decide_pair(ranked({1, 3, 2}));
  EXPECT_EQ(decision.chosen, 0);
  EXPECT_EQ(decision.rejected, 1);
}

TEST(OnlinePairing, TiesFavourTheNewResponse) {
  // New ties for best: it is chosen.
  PairingDecision decision = decide_pair(ranked({1, 1, 3}));
  EXPECT_EQ(decision.chosen, 0);
  EXPECT_EQ(decision.rejected, 2);
  // New ties for worst with a dataset response: the dataset response is rejected.
  decision = decide_pair(ranked({2, 1, 2}));
  EXPECT_EQ(decision.chosen, 1);
  EXPECT_EQ(decision.rejected, 2);
  decision = decide_pair(ranked({3, 1, 3}));
  EXPECT_EQ(decision.rejected, 2);
  // New is the only worst: it is rejected.
  decision = decide_pair(ranked({3, 1, 2}));
  EXPECT_EQ(decision.rejected, 0);
}

TEST(OnlinePairing, AllEqualAbstainedAndFailedGiveNoPair) {
  EXPECT_EQ(decide_pair(ranked({1, 1, 1})).outcome, PairingOutcome::tie);
  EXPECT_EQ(decide_pair(abstained_judgment("flipped with the order")).outcome, PairingOutcome::abstained);
  EXPECT_EQ(decide_pair(failed_judgment("timeout")).outcome, PairingOutcome::failed);
  PairingCounts counts;
  for (PairingOutcome outcome : {PairingOutcome::pair, PairingOutcome::tie, PairingOutcome::pair,
                                 PairingOutcome::abstained, PairingOutcome::failed, PairingOutcome::empty}) {
    counts.add(outcome);
  }
  EXPECT_EQ(counts.prompts, 6);
  EXPECT_EQ(counts.dropped_empty, 1);
  EXPECT_EQ(counts.pairs, 2);
  EXPECT_EQ(counts.dropped_ties, 1);
  EXPECT_EQ(counts.dropped_abstained, 1);
  EXPECT_EQ(counts.dropped_failed, 1);
  EXPECT_THROW(parse_enum<PairingStrategy>("random", "online.pairing"), InputError);
}

TEST(OnlinePairing, BestWorstOverSamplesPicksExtremes) {
  // Four samples: lowest index among the best, highest index among the worst.
  const PairingDecision decision = decide_pair(ranked({2, 1, 1, 4}));
  EXPECT_EQ(decision.chosen, 1);
  EXPECT_EQ(decision.rejected, 3);
}

TEST(OnlineRunState, RoundTripsAndRejectsGarbage) {
  test::TempDir dir;
  RunState state;
  state.config_fingerprint = "abc";
  state.completed = {"baseline", "round-1/select"};
  state.stage_seconds = {{"baseline", 1.5}, {"round-1/select", 0.25}};
  write_run_state(dir / "state.json", state);
  const RunState loaded = read_run_state(dir / "state.json");
  EXPECT_EQ(loaded.completed, state.completed);
  EXPECT_EQ(loaded.stage_seconds, state.stage_seconds);
  EXPECT_TRUE(loaded.is_completed("round-1/select"));
  EXPECT_FALSE(loaded.is_completed("round-1/generate"));
  EXPECT_FALSE(loaded.finished);
  test::write_text(dir / "bad.json", "{\"version\": 1, \"completed\": 3}");
  EXPECT_THROW(read_run_state(dir / "bad.json"), InputError);
}

TEST(OnlineRunState, FingerprintIgnoresSpeedSettingsOnly) {
  const Config base = load_config({}, {});
  EXPECT_EQ(config_fingerprint(base), config_fingerprint(load_config({}, {"run.threads=3", "judge.http.max_concurrent=9"})));
  EXPECT_TRUE(result_deciding_differences(base, load_config({}, {"train.save_every=5"})).empty());
  const std::vector<std::string> differences = result_deciding_differences(base, load_config({}, {"train.alpha=0.5"}));
  ASSERT_EQ(differences.size(), 1u);
  EXPECT_EQ(differences[0], "train.alpha: 0.001 -> 0.5");
  EXPECT_NE(config_fingerprint(base), config_fingerprint(load_config({}, {"train.alpha=0.5"})));
}

TEST(OnlineRecipes, PaperRecipesPassValidation) {
  for (const char* recipe : {"zephyr-7b-selm.yaml", "llama3-8b-selm.yaml"}) {
    const std::string path = std::string(SELM_SOURCE_DIR) + "/configs/recipes/" + recipe;
    const auto result = test::run_selm({"config", "-c", path});
    EXPECT_EQ(result.exit_code, 0) << recipe << "\n" << result.output;
    const Config config = load_config({path}, {});
    EXPECT_DOUBLE_EQ(config.train.beta, 0.01);
    EXPECT_EQ(config.online.rounds, 3);
  }
  const Config zephyr = load_config({std::string(SELM_SOURCE_DIR) + "/configs/recipes/zephyr-7b-selm.yaml"}, {});
  EXPECT_DOUBLE_EQ(zephyr.train.alpha, 0.001);
  EXPECT_TRUE(zephyr.online.offline_round0);
  EXPECT_EQ(zephyr.online.round_overrides.size(), 4u);
  EXPECT_EQ(zephyr.train.batch_size * zephyr.train.gradient_accumulation_steps, 256);
  const Config llama = load_config({std::string(SELM_SOURCE_DIR) + "/configs/recipes/llama3-8b-selm.yaml"}, {});
  EXPECT_DOUBLE_EQ(llama.train.alpha, 0.0001);
  EXPECT_EQ(llama.train.batch_size * llama.train.gradient_accumulation_steps, 128);
}

TEST(OnlineRecipes, QuickstartDpoDiffersFromTheQuickstartOnlyInAlpha) {
  const std::string configs = std::string(SELM_SOURCE_DIR) + "/configs/";
  const Config selm = load_config({configs + "quickstart.yaml"}, {});
  const Config dpo = load_config({configs + "quickstart-dpo.yaml"}, {});
  EXPECT_EQ(result_deciding_differences(selm, dpo),
            (std::vector<std::string>{"run.name: quickstart -> quickstart-dpo", "train.alpha: 0.001 -> 0.0"}));
}

}  // namespace
}  // namespace selm
