// Pairing decisions from judgments (hand-made ranks), the pure pairing of a round (ties, empty
// responses, abstentions, y_ref), prompt selection, run-state round trips, config fingerprints,
// and the paper recipes passing `selm config` validation.
#include <gtest/gtest.h>

#include <algorithm>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "selm/config/config.hpp"
#include "selm/online/online_trainer.hpp"
#include "selm/online/pairing.hpp"
#include "selm/online/train_prompts.hpp"
#include "selm/run/run_state.hpp"
#include "selm/util/error.hpp"
#include "support/test_support.hpp"

namespace selm {
namespace SELM_UNITY_ID {

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

// Three dataset prompts with their own pairs.
std::vector<TrainPrompt> three_prompts() {
  std::vector<TrainPrompt> prompts;
  for (int i = 0; i < 3; ++i) {
    TrainPrompt prompt;
    prompt.dataset_index = 10 + i;
    prompt.line = static_cast<std::size_t>(11 + i);
    prompt.messages = {{"user", "question " + std::to_string(i)}};
    prompt.record = {{"prompt", "question " + std::to_string(i)}};
    prompt.chosen = "good " + std::to_string(i);
    prompt.rejected = "bad " + std::to_string(i);
    prompts.push_back(prompt);
  }
  return prompts;
}

GenerationRecord generated(std::int64_t prompt, std::int64_t sample, const std::string& text, double logprob) {
  GenerationRecord record;
  record.prompt_index = prompt;
  record.sample_index = sample;
  record.response = text;
  record.token_ids = text.empty() ? std::vector<std::int64_t>{} : std::vector<std::int64_t>{prompt + 5, sample + 7};
  record.logprob = logprob;
  return record;
}

TEST(OnlinePairing, SelmRequestsRankTheNewResponseWithTheDatasetPair) {
  const std::vector<TrainPrompt> prompts = three_prompts();
  const std::vector<GenerationRecord> generations = {generated(0, 0, "new 0", -1.0), generated(1, 0, "new 1", -2.0),
                                                     generated(2, 0, "new 2", -3.0)};
  const auto requests = candidate_requests(prompts, generations, PairingStrategy::selm, 1, "gen.jsonl");
  ASSERT_EQ(requests.size(), 3u);
  EXPECT_EQ(requests[1].id, "1");
  EXPECT_EQ(requests[1].prompt, "question 1");
  EXPECT_EQ(requests[1].candidates, (std::vector<std::string>{"new 1", "good 1", "bad 1"}));
  try {
    candidate_requests(prompts, {generations[0]}, PairingStrategy::selm, 1, "gen.jsonl");
    FAIL() << "expected an error";
  } catch (const std::runtime_error& error) {
    EXPECT_EQ(std::string(error.what()), "gen.jsonl: expected 3 records, found 1");
  }
}

TEST(OnlinePairing, SelmRoundDropsTiesEmptyResponsesAndAbstentions) {
  std::vector<TrainPrompt> prompts = three_prompts();
  prompts.push_back(prompts[0]);
  prompts[3].dataset_index = 13;
  prompts[3].rejected = "same";
  const std::vector<GenerationRecord> generations = {generated(0, 0, "new 0", -1.5), generated(1, 0, "", 0.0),
                                                     generated(2, 0, "new 2", -3.0), generated(3, 0, "same", -4.0)};
  const auto requests = candidate_requests(prompts, generations, PairingStrategy::selm, 1, "gen.jsonl");
  // 0: the new response wins over the dataset's rejected; 1: y_ref is empty; 2: abstained;
  // 3: the new response and the dataset's rejected are the same text at the two ends.
  const std::vector<Judgment> judgments = {ranked({1, 2, 3}), ranked({1, 2, 3}), abstained_judgment("order"),
                                           ranked({1, 2, 3})};
  const PairedRound round = pair_judged_candidates(prompts, generations, requests, judgments, 1);
  EXPECT_EQ(round.counts.prompts, 4);
  EXPECT_EQ(round.counts.pairs, 1);
  EXPECT_EQ(round.counts.dropped_empty, 1);
  EXPECT_EQ(round.counts.dropped_abstained, 1);
  EXPECT_EQ(round.counts.dropped_ties, 1);
  ASSERT_EQ(round.preferences.size(), 1u);
  const RoundPreference& pair = round.preferences[0];
  EXPECT_EQ(pair.dataset_index, 10);
  EXPECT_EQ(pair.record.chosen, "new 0");
  EXPECT_EQ(pair.record.rejected, "bad 0");
  EXPECT_EQ(pair.record.reference_response, std::optional<std::string>("new 0"));
  EXPECT_EQ(pair.record.reference_response_ids, std::optional<std::vector<std::int64_t>>({5, 7}));
  ASSERT_TRUE(pair.reference_response_logprob.has_value());
  EXPECT_DOUBLE_EQ(*pair.reference_response_logprob, -1.5);
  EXPECT_EQ(round.counts.to_json().dump(),
            "{\"dropped_abstained\":1,\"dropped_empty\":1,\"dropped_failed\":0,\"dropped_ties\":1,\"pairs\":1,"
            "\"prompts\":4}");
}

TEST(OnlinePairing, BestWorstRoundKeepsSampleZeroAsReference) {
  std::vector<TrainPrompt> prompts = three_prompts();
  prompts.resize(1);
  const std::vector<GenerationRecord> generations = {generated(0, 0, "first", -1.0), generated(0, 1, "longest", -2.0),
                                                     generated(0, 2, "short", -3.0)};
  const auto requests = candidate_requests(prompts, generations, PairingStrategy::best_worst, 3, "gen.jsonl");
  EXPECT_EQ(requests[0].candidates, (std::vector<std::string>{"first", "longest", "short"}));
  const PairedRound round = pair_judged_candidates(prompts, generations, requests, {ranked({2, 1, 3})}, 3);
  ASSERT_EQ(round.preferences.size(), 1u);
  EXPECT_EQ(round.preferences[0].record.chosen, "longest");
  EXPECT_EQ(round.preferences[0].record.rejected, "short");
  EXPECT_EQ(round.preferences[0].record.reference_response, std::optional<std::string>("first"));
  EXPECT_DOUBLE_EQ(*round.preferences[0].reference_response_logprob, -1.0);
  EXPECT_THROW(pair_judged_candidates(prompts, generations, requests, {}, 3), std::invalid_argument);
}

TEST(OnlinePairing, DatasetPairsAndTheirPreferenceLines) {
  const PairedRound round = dataset_pairs(three_prompts());
  EXPECT_EQ(round.counts.prompts, 3);
  EXPECT_EQ(round.counts.pairs, 3);
  ASSERT_EQ(round.preferences.size(), 3u);
  EXPECT_EQ(round.preferences[2].record.chosen, "good 2");
  EXPECT_FALSE(round.preferences[2].reference_response_logprob.has_value());
  const std::string text = preferences_jsonl(round.preferences);
  const std::string first_line = text.substr(0, text.find('\n'));
  const nlohmann::json first = nlohmann::json::parse(first_line);
  EXPECT_EQ(first.at("dataset_index").get<int>(), 10);
  EXPECT_EQ(first.at("chosen").get<std::string>(), "good 0");
  EXPECT_FALSE(first.contains("reference_response_logprob"));
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 3);

  std::vector<RoundPreference> online = round.preferences;
  online[0].reference_response_logprob = -0.25;
  const std::string online_text = preferences_jsonl(online);
  EXPECT_EQ(nlohmann::json::parse(online_text.substr(0, online_text.find('\n'))).at("reference_response_logprob"), -0.25);
}

TEST(OnlinePairing, PromptSelectionSlicesShufflesOrTakesAll) {
  PromptSliceSpec spec;
  spec.slices = 3;
  EXPECT_EQ(select_prompt_indices(7, spec, 1), (std::vector<std::int64_t>{2, 3}));  // 7 / 3 = 2 per round
  spec.per_round = 3;
  EXPECT_EQ(select_prompt_indices(9, spec, 2), (std::vector<std::int64_t>{6, 7, 8}));
  spec.selection = PromptSelection::all;
  spec.per_round = 0;
  EXPECT_EQ(select_prompt_indices(4, spec, 2), (std::vector<std::int64_t>{0, 1, 2, 3}));
  spec.selection = PromptSelection::shuffle;
  spec.per_round = 3;
  spec.shuffle_seed = 5;
  std::vector<std::int64_t> all;
  for (std::int64_t slice = 0; slice < 3; ++slice) {
    const auto indices = select_prompt_indices(9, spec, slice);
    EXPECT_EQ(indices.size(), 3u);
    all.insert(all.end(), indices.begin(), indices.end());
  }
  EXPECT_NE(all, (std::vector<std::int64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8}));  // shuffled ...
  std::sort(all.begin(), all.end());
  EXPECT_EQ(all, (std::vector<std::int64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8}));  // ... a partition
  EXPECT_EQ(parse_enum<PromptSelection>("shuffle", "online.prompt_selection"), PromptSelection::shuffle);
  EXPECT_THROW(parse_enum<PromptSelection>("random", "online.prompt_selection"), InputError);
}

TEST(OnlineRunState, RoundTripsAndRejectsGarbage) {
  test::TempDir dir;
  RunState state;
  state.config_fingerprint = "abc";
  state.completed = {"baseline", "round-1/select"};
  state.stage_seconds = {{"baseline", 1.5}, {"round-1/select", 0.25}};
  write_run_state(SharedArtifacts{}, dir / "state.json", state);
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
  for (const char* recipe :
       {"zephyr-7b-selm.yaml", "llama3-8b-selm.yaml", "zephyr-7b-selm-lora.yaml", "llama3-8b-selm-lora.yaml"}) {
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
  // The one-GPU variants keep the global batch and train adapters in bf16_mixed with checkpointing.
  for (const auto& [recipe, global_batch] : {std::pair<const char*, int>{"zephyr-7b-selm-lora.yaml", 256},
                                             std::pair<const char*, int>{"llama3-8b-selm-lora.yaml", 128}}) {
    const Config lora = load_config({std::string(SELM_SOURCE_DIR) + "/configs/recipes/" + recipe}, {});
    EXPECT_EQ(lora.train.batch_size * lora.train.gradient_accumulation_steps, global_batch) << recipe;
    EXPECT_TRUE(lora.train.lora.enabled()) << recipe;
    EXPECT_EQ(lora.train.precision, TrainPrecision::bf16_mixed) << recipe;
    EXPECT_TRUE(lora.train.gradient_checkpointing) << recipe;
  }
}

TEST(OnlineRecipes, QuickstartDpoDiffersFromTheQuickstartOnlyInAlpha) {
  const std::string configs = std::string(SELM_SOURCE_DIR) + "/configs/";
  const Config selm = load_config({configs + "quickstart.yaml"}, {});
  const Config dpo = load_config({configs + "quickstart-dpo.yaml"}, {});
  EXPECT_EQ(result_deciding_differences(selm, dpo),
            (std::vector<std::string>{"run.name: quickstart -> quickstart-dpo", "train.alpha: 0.001 -> 0.0"}));
}

TEST(OnlineRecipes, QuickstartLoraDiffersFromTheQuickstartOnlyInLoraAndItsLearningRate) {
  const std::string configs = std::string(SELM_SOURCE_DIR) + "/configs/";
  const Config selm = load_config({configs + "quickstart.yaml"}, {});
  const Config lora = load_config({configs + "quickstart-lora.yaml"}, {});
  std::vector<std::string> keys;
  for (const std::string& difference : result_deciding_differences(selm, lora)) {
    keys.push_back(difference.substr(0, difference.find(':')));
  }
  EXPECT_EQ(keys, (std::vector<std::string>{"run.name", "train.learning_rate", "train.lora.alpha", "train.lora.rank",
                                            "train.lora.target_modules"}));
  EXPECT_EQ(lora.train.lora.rank, 16);
}

}  // namespace
}  // namespace selm
