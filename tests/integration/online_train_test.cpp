// `selm train` end to end with a tiny model and the lexicon judge: two online rounds, every
// artifact and its schema, round 2's reference being round 1's model, the pair count against the
// judgments, resume and config-change refusal, and alpha = 0 vs alpha > 0 giving the same
// round-1 preference data.
#include <gtest/gtest.h>

#include <cstdlib>
#include <sstream>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "selm/data/records.hpp"
#include "selm/model/language_model.hpp"
#include "selm/train/sequence_logps.hpp"
#include "support/online_run_fixture.hpp"
#include "support/test_support.hpp"

namespace selm {
namespace SELM_UNITY_ID {

using test::read_text;
using test::read_json_lines;
using test::run_selm;
namespace fs = std::filesystem;

class OnlineTrain : public test::OnlineRunFixture {};

TEST_F(OnlineTrain, TwoRoundsWriteEveryArtifactWithItsSchema) {
  const std::vector<std::string> args = train_args("two_rounds");
  const auto run = run_selm(args);
  ASSERT_EQ(run.exit_code, 0) << run.output;
  const fs::path dir = run_dir("two_rounds");

  for (const char* name : {"config.yaml", "state.json", "log.txt", "metrics.jsonl", "initial_model.json",
                           "baseline/eval_generations.jsonl"}) {
    EXPECT_TRUE(fs::exists(dir / name)) << name;
  }
  const nlohmann::json state = nlohmann::json::parse(read_text(dir / "state.json"));
  EXPECT_TRUE(state.at("finished").get<bool>());
  const std::vector<std::string> expected_stages = {
      "baseline",        "round-1/select", "round-1/generate", "round-1/judge",     "round-1/pair",
      "round-1/reference", "round-1/train", "round-1/eval",     "round-2/select",    "round-2/generate",
      "round-2/judge",   "round-2/pair",   "round-2/reference", "round-2/train",    "round-2/eval"};
  std::vector<std::string> completed = state.at("completed").get<std::vector<std::string>>();
  completed.erase(std::remove(completed.begin(), completed.end(), "report"), completed.end());
  EXPECT_EQ(completed, expected_stages);
  for (const auto& stage : expected_stages) EXPECT_GE(state.at("stage_seconds").at(stage).get<double>(), 0.0) << stage;

  for (int round = 1; round <= 2; ++round) {
    const fs::path round_dir = dir / ("round-" + std::to_string(round));
    const auto prompts = read_json_lines(round_dir / "prompts.jsonl");
    ASSERT_EQ(prompts.size(), 6u);
    // Contiguous slices: round 1 holds prompts 0..5, round 2 prompts 6..11.
    EXPECT_EQ(prompts.front().at("dataset_index").get<int>(), (round - 1) * 6);
    const auto generations = read_json_lines(round_dir / "generations.jsonl");
    ASSERT_EQ(generations.size(), 6u);
    for (const auto& record : generations) {
      for (const char* key : {"prompt_index", "sample_index", "prompt", "response", "token_ids", "logprob", "finish_reason"}) {
        EXPECT_TRUE(record.contains(key)) << key;
      }
      EXPECT_LE(record.at("token_ids").size(), 8u);
    }
    const auto judgments = read_json_lines(round_dir / "judgments.jsonl");
    ASSERT_EQ(judgments.size(), 6u);

    // pairs = prompts - ties - abstentions - failures, counted here from the judgments.
    std::int64_t ties = 0, not_ok = 0;
    for (const auto& judgment : judgments) {
      EXPECT_EQ(judgment.at("judge").get<std::string>(), "lexicon");
      ASSERT_EQ(judgment.at("scores").size(), 3u);
      if (judgment.at("status").get<std::string>() != "ok") {
        ++not_ok;
        continue;
      }
      const auto ranks = judgment.at("ranks").get<std::vector<std::int64_t>>();
      if (*std::min_element(ranks.begin(), ranks.end()) == *std::max_element(ranks.begin(), ranks.end())) ++ties;
    }
    const nlohmann::json pairing = nlohmann::json::parse(read_text(round_dir / "pairing.json"));
    const auto preferences = read_json_lines(round_dir / "preferences.jsonl");
    EXPECT_EQ(pairing.at("prompts").get<std::int64_t>(), 6);
    EXPECT_EQ(pairing.at("dropped_ties").get<std::int64_t>(), ties);
    // A pair with an empty response (the model ended at once) cannot be a record: dropped and counted.
    const auto empty = pairing.at("dropped_empty").get<std::int64_t>();
    EXPECT_EQ(static_cast<std::int64_t>(preferences.size()), 6 - ties - not_ok - empty);
    EXPECT_EQ(pairing.at("pairs").get<std::int64_t>(), static_cast<std::int64_t>(preferences.size()));
    // The neutral prompts (every third) tie whenever the generated text carries no sentiment.
    EXPECT_GE(preferences.size(), 1u);
    for (const auto& record : preferences) {
      for (const char* key : {"prompt", "chosen", "rejected", "reference_response", "reference_response_token_ids",
                              "reference_response_logprob"}) {
        EXPECT_TRUE(record.contains(key)) << key;
      }
      EXPECT_NE(record.at("chosen"), record.at("rejected"));
    }
    EXPECT_TRUE(fs::exists(round_dir / "preferences_with_reference.jsonl"));
    EXPECT_TRUE(fs::exists(round_dir / "model" / "model.safetensors"));
    EXPECT_TRUE(fs::exists(round_dir / "model" / "config.json"));
    EXPECT_FALSE(fs::exists(round_dir / "checkpoint"));
    EXPECT_FALSE(read_json_lines(round_dir / "train_metrics.jsonl").empty());

    const nlohmann::json eval = nlohmann::json::parse(read_text(round_dir / "eval.json"));
    EXPECT_EQ(eval.at("round").get<int>(), round);
    EXPECT_EQ(eval.at("prompts").get<int>(), 4);
    EXPECT_EQ(eval.at("wins").get<int>() + eval.at("ties").get<int>() + eval.at("losses").get<int>() +
                  eval.at("abstained").get<int>() + eval.at("failed").get<int>(),
              4);
    const double win_rate = eval.at("win_rate").get<double>();
    EXPECT_LE(eval.at("win_rate_ci")[0].get<double>(), win_rate);
    EXPECT_GE(eval.at("win_rate_ci")[1].get<double>(), win_rate);
    EXPECT_EQ(eval.at("scores").size(), 4u);
    EXPECT_TRUE(eval.at("mean_score").is_number());
    EXPECT_TRUE(eval.at("kl").is_number());
    EXPECT_EQ(eval.at("kl_samples").get<int>(), 4);
    EXPECT_EQ(eval.at("examples").size(), 2u);
  }

  // Round 2's reference is round 1's model: the reference log-prob stored for round 2's first
  // pair equals the log-prob under round-1/model computed here, and differs from the initial
  // model's.
  const nlohmann::json eval2 = nlohmann::json::parse(read_text(dir / "round-2" / "eval.json"));
  EXPECT_EQ(fs::path(eval2.at("reference").get<std::string>()), dir / "round-1" / "model");
  const auto scored = read_preference_file(dir / "round-2" / "preferences_with_reference.jsonl");
  ASSERT_FALSE(scored.empty());
  auto chosen_logp = [&](const fs::path& model_dir) {
    ModelSettings model_settings;
    TokenizerSettings tokenizer_settings;
    LanguageModel lm = load_language_model(model_dir, model_settings, tokenizer_settings);
    const TokenizedPreference example = tokenize_preference(scored.front(), *lm.formatter, 64, 32);
    torch::NoGradGuard no_grad;
    const SequenceLogps logps = sequence_logps(lm.model, build_sequence_batch({{&example.prompt, &example.chosen}}, 0));
    return logps.logps[0].item<double>();
  };
  const double stored = scored.front().reference_logps->chosen;
  EXPECT_NEAR(chosen_logp(dir / "round-1" / "model"), stored, 1e-4);
  EXPECT_GT(std::abs(chosen_logp(path("model")) - stored), 1e-3);

  const auto metrics = read_json_lines(dir / "metrics.jsonl");
  ASSERT_EQ(metrics.size(), 2u);
  for (const auto& line : metrics) {
    for (const char* key : {"round", "win_rate", "win_rate_ci", "mean_score", "baseline_mean_score", "mean_length", "kl",
                            "pairs", "dropped_ties", "train_loss", "train_accuracy", "stage_seconds"}) {
      EXPECT_TRUE(line.contains(key)) << key;
    }
  }

  // A finished run says so and exits 0; a changed result-deciding key is refused (exit 2) and
  // named, unless --force.
  auto with = [&args](std::vector<std::string> extra) {
    std::vector<std::string> all = args;
    all.insert(all.end(), extra.begin(), extra.end());
    return all;
  };
  const auto again = run_selm(args);
  EXPECT_EQ(again.exit_code, 0) << again.output;
  EXPECT_NE(again.output.find("already finished"), std::string::npos) << again.output;
  const auto changed = run_selm(with({"train.beta=0.5"}));
  EXPECT_EQ(changed.exit_code, 2) << changed.output;
  EXPECT_NE(changed.output.find("train.beta: 0.1 -> 0.5"), std::string::npos) << changed.output;
  EXPECT_NE(changed.output.find("--force"), std::string::npos) << changed.output;
  const auto threads = run_selm(with({"run.threads=2"}));
  EXPECT_EQ(threads.exit_code, 0) << threads.output;
  const auto forced = run_selm(with({"train.beta=0.5", "--force"}));
  EXPECT_EQ(forced.exit_code, 0) << forced.output;
}

TEST_F(OnlineTrain, AlphaZeroAndPositiveAlphaShareRoundOnePreferences) {
  const auto selm_run = run_selm(train_args("alpha_pos", {"online.rounds=1", "eval.enabled=false"}));
  ASSERT_EQ(selm_run.exit_code, 0) << selm_run.output;
  const auto dpo_run = run_selm(train_args("alpha_zero", {"online.rounds=1", "eval.enabled=false", "train.alpha=0"}));
  ASSERT_EQ(dpo_run.exit_code, 0) << dpo_run.output;
  for (const char* name : {"generations.jsonl", "judgments.jsonl", "preferences.jsonl"}) {
    EXPECT_EQ(read_text(run_dir("alpha_pos") / "round-1" / name), read_text(run_dir("alpha_zero") / "round-1" / name))
        << name;
  }
  // The optimism term is the only difference: it shows in the losses and the trained weights.
  const auto selm_metrics = read_json_lines(run_dir("alpha_pos") / "round-1" / "train_metrics.jsonl");
  const auto dpo_metrics = read_json_lines(run_dir("alpha_zero") / "round-1" / "train_metrics.jsonl");
  ASSERT_EQ(selm_metrics.size(), dpo_metrics.size());
  EXPECT_TRUE(selm_metrics.front().contains("logps/pi_response"));
  EXPECT_FALSE(dpo_metrics.front().contains("logps/pi_response"));
  // At step 1 the policy is the reference, so both losses are log 2; they part afterwards.
  EXPECT_NE(selm_metrics.back().at("loss"), dpo_metrics.back().at("loss"));
  EXPECT_NE(read_text(run_dir("alpha_pos") / "round-1" / "model" / "model.safetensors"),
            read_text(run_dir("alpha_zero") / "round-1" / "model" / "model.safetensors"));
}

// Sampled evaluation: each run.seed draws its own baseline responses (so that a sweep's spread
// over seeds covers the initial model too), the same seed draws the same ones; greedy ones do
// not depend on the seed.
TEST_F(OnlineTrain, SampledBaselineResponsesFollowTheRunSeed) {
  auto baseline_of = [](const std::string& name, const std::string& seed, const std::string& temperature) {
    const auto run = run_selm(train_args(name, {"--stop-after-stage", "baseline", "run.seed=" + seed,
                                                "eval.temperature=" + temperature}));
    EXPECT_EQ(run.exit_code, 0) << run.output;
    return read_text(run_dir(name) / "baseline" / "eval_generations.jsonl");
  };
  const std::string sampled_1 = baseline_of("baseline_s1", "1", "1.0");
  EXPECT_EQ(read_json_lines(run_dir("baseline_s1") / "baseline" / "eval_generations.jsonl").size(), 4u);
  EXPECT_EQ(sampled_1, baseline_of("baseline_s1_again", "1", "1.0"));
  EXPECT_NE(sampled_1, baseline_of("baseline_s2", "2", "1.0"));
  EXPECT_EQ(baseline_of("greedy_s1", "1", "0"), baseline_of("greedy_s2", "2", "0"));
}

TEST_F(OnlineTrain, BadInputExitsTwoWithoutCreatingTheRunDirectory) {
  const auto missing = run_selm(train_args("no_eval_file", {"data.eval_file=\"\""}));
  EXPECT_EQ(missing.exit_code, 2) << missing.output;
  EXPECT_NE(missing.output.find("data.eval_file"), std::string::npos) << missing.output;
  EXPECT_FALSE(fs::exists(run_dir("no_eval_file")));

  test::write_text(path("bad_prefs.jsonl"), "{\"prompt\": \"a\", \"chosen\": \"b\", \"rejected\": \"c\"}\n{\"prompt\": \"a\"}\n");
  const auto bad = run_selm(train_args("bad_data", {"data.train_file=" + path("bad_prefs.jsonl")}));
  EXPECT_EQ(bad.exit_code, 2) << bad.output;
  EXPECT_NE(bad.output.find("bad_prefs.jsonl:2"), std::string::npos) << bad.output;
  EXPECT_FALSE(fs::exists(run_dir("bad_data")));

  const auto pairing = run_selm(train_args("bad_pairing", {"online.pairing=best"}));
  EXPECT_EQ(pairing.exit_code, 2) << pairing.output;
  EXPECT_NE(pairing.output.find("online.pairing"), std::string::npos) << pairing.output;
}

TEST_F(OnlineTrain, BestWorstPairingAndOfflineRoundZero) {
  // A judge that prefers longer responses, so that the tiny model's samples rarely tie.
  test::write_text(path("length_judge.py"),
                   "import json, sys\n"
                   "for line in sys.stdin:\n"
                   "    request = json.loads(line)\n"
                   "    print(json.dumps({'id': request['id'], 'scores': [len(c.encode()) for c in request['candidates']]}), "
                   "flush=True)\n");
  const auto run = run_selm(train_args("best_worst", {"online.rounds=1", "online.pairing=best_worst", "judge.type=command",
                                                      "judge.command.argv=[python3, " + path("length_judge.py") + "]",
                                                        "online.offline_round0=true", "generate.num_samples=3",
                                                        "online.round_overrides=[\"train.learning_rate=0.002\"]"}));
  ASSERT_EQ(run.exit_code, 0) << run.output;
  const fs::path dir = run_dir("best_worst");
  // Round 0 trains on the dataset's own pairs of the first slice (of 2), with the dpo loss and
  // round 0's learning rate; round 1 samples 3 responses per prompt.
  const auto round0 = read_json_lines(dir / "round-0" / "preferences.jsonl");
  ASSERT_EQ(round0.size(), 6u);
  EXPECT_FALSE(round0.front().contains("reference_response"));
  EXPECT_FALSE(fs::exists(dir / "round-0" / "generations.jsonl"));
  const auto metrics = read_json_lines(dir / "metrics.jsonl");
  ASSERT_EQ(metrics.size(), 2u);
  EXPECT_EQ(metrics[0].at("loss").get<std::string>(), "dpo");
  EXPECT_DOUBLE_EQ(metrics[0].at("learning_rate").get<double>(), 0.002);
  EXPECT_EQ(metrics[1].at("loss").get<std::string>(), "selm");
  EXPECT_EQ(read_json_lines(dir / "round-1" / "generations.jsonl").size(), 18u);
  const auto judgments = read_json_lines(dir / "round-1" / "judgments.jsonl");
  ASSERT_EQ(judgments.size(), 6u);
  EXPECT_EQ(judgments.front().at("scores").size(), 3u);
  // y_ref is sample 0 of the prompt; chosen is the longest sample, rejected the shortest.
  const auto generations = read_json_lines(dir / "round-1" / "generations.jsonl");
  const auto preferences = read_json_lines(dir / "round-1" / "preferences.jsonl");
  EXPECT_GE(preferences.size(), 3u);
  for (const auto& record : preferences) {
    EXPECT_GT(record.at("chosen").get<std::string>().size(), record.at("rejected").get<std::string>().size());
    const auto index = record.at("dataset_index").get<std::int64_t>() - 6;
    EXPECT_EQ(record.at("reference_response"), generations[static_cast<std::size_t>(index * 3)].at("response"));
  }
}

TEST_F(OnlineTrain, ARoundWithoutPairsKeepsItsStartingModel) {
  // A judge that scores every candidate alike: every prompt ties, no pair is formed.
  test::write_text(path("tie_judge.py"),
                   "import json, sys\n"
                   "for line in sys.stdin:\n"
                   "    request = json.loads(line)\n"
                   "    print(json.dumps({'id': request['id'], 'scores': [0.0] * len(request['candidates'])}), "
                   "flush=True)\n");
  const auto run = run_selm(train_args("all_ties", {"online.rounds=1", "eval.enabled=false", "judge.type=command",
                                                    "judge.command.argv=[python3, " + path("tie_judge.py") + "]"}));
  ASSERT_EQ(run.exit_code, 0) << run.output;
  const fs::path dir = run_dir("all_ties");
  const nlohmann::json pairing = nlohmann::json::parse(read_text(dir / "round-1" / "pairing.json"));
  EXPECT_EQ(pairing.at("pairs").get<int>(), 0);
  EXPECT_EQ(pairing.at("dropped_ties").get<int>(), 12);
  EXPECT_EQ(read_text(dir / "round-1" / "model" / "model.safetensors"), read_text(fs::path(path("model")) / "model.safetensors"));
}

}  // namespace
}  // namespace selm
