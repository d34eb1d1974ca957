// The stage functions of an online round called directly (no binary): select, generate, judge,
// pair, reference, train and eval on the tiny committed model, with a judge that prefers longer
// responses and counts its calls. Each stage's output is checked against its file, and a second
// call against the same folder resumes from the file instead of working again.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "selm/judge/judge_file.hpp"
#include "selm/online/round_stages.hpp"
#include "selm/run/pairing_counts.hpp"
#include "selm/util/error.hpp"
#include "support/online_run_fixture.hpp"
#include "support/test_support.hpp"

namespace selm {
namespace SELM_UNITY_ID {

using test::read_json_lines;
using test::read_text;

// Scores each candidate by its length in bytes; counts the candidates it was asked to rank.
class LengthJudge : public Judge {
 public:
  std::string id() const override { return "length"; }
  std::string config_hash() const override { return "0123456789abcdef"; }
  std::int64_t ranked_requests = 0;

 protected:
  std::vector<Judgment> rank_batch(const std::vector<JudgeRequest>& batch) override {
    std::vector<Judgment> judgments;
    for (const JudgeRequest& request : batch) {
      ++ranked_requests;
      std::vector<double> scores;
      for (const std::string& candidate : request.candidates) scores.push_back(static_cast<double>(candidate.size()));
      Judgment judgment = judgment_from_scores(scores);
      judgment.id = request.id;
      judgment.judge_id = id();
      judgment.config_hash = config_hash();
      judgments.push_back(std::move(judgment));
    }
    return judgments;
  }
};

class OnlineRoundStages : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string prefs;
    for (int i = 0; i < 6; ++i) {
      prefs += nlohmann::json{{"prompt", "Tell me about thing " + std::to_string(i) + "."},
                              {"chosen", "A long and careful answer number " + std::to_string(i) + "."},
                              {"rejected", "No."}}
                   .dump() +
               "\n";
    }
    test::write_text(dir_ / "prefs.jsonl", prefs);
    dataset_ = read_train_prompts((dir_ / "prefs.jsonl").string(), /*with_pairs=*/true);
    paths_ = RunPaths{dir_ / "run"};
    round_ = paths_.round(1);
  }

  static fs::path tiny_model_dir() { return test::test_data_dir() / "hf" / "selm_tiny"; }
  static LanguageModel load_tiny() { return load_language_model(tiny_model_dir(), ModelSettings{}, TokenizerSettings{}); }

  static SamplingConfig short_sampling(double temperature) {
    SamplingConfig sampling;
    sampling.max_new_tokens = 6;
    sampling.temperature = temperature;
    sampling.batch_size = 2;
    sampling.seed = 11;
    return sampling;
  }

  // Round 1's prompts (the second slice of two) through select.
  std::vector<TrainPrompt> select_second_slice() {
    PromptSliceSpec spec;
    spec.slices = 2;
    return run_select_stage(dataset_, spec, 1, round_, artifacts_);
  }

  test::TempDir dir_;
  std::vector<TrainPrompt> dataset_;
  RunPaths paths_;
  RoundPaths round_;
  SharedArtifacts artifacts_;  // one process: it writes every file
};

TEST_F(OnlineRoundStages, OnlyTheWritingRankWritesTheStageFiles) {
  PromptSliceSpec spec;
  spec.slices = 2;
  const SharedArtifacts second_rank(ParallelContext{1, 2, 1, 2, nullptr});
  const std::vector<TrainPrompt> prompts = run_select_stage(dataset_, spec, 1, round_, second_rank);
  ASSERT_EQ(prompts.size(), 3u);  // every rank knows the round's prompts ...
  EXPECT_EQ(prompts.front().dataset_index, 3);
  EXPECT_FALSE(fs::exists(round_.prompts()));  // ... but only rank 0 writes them
  write_pairing_stage(dataset_pairs(prompts), round_, second_rank);
  EXPECT_FALSE(fs::exists(round_.preferences()));
  EXPECT_FALSE(fs::exists(round_.pairing()));
  write_pairing_stage(dataset_pairs(prompts), round_, artifacts_);
  EXPECT_TRUE(fs::exists(round_.preferences()));
  EXPECT_TRUE(fs::exists(round_.pairing()));
}

TEST_F(OnlineRoundStages, SelectWritesTheSliceThatResumeReadsBack) {
  // The dataset is parsed once, pairs included.
  ASSERT_EQ(dataset_.size(), 6u);
  EXPECT_EQ(dataset_[4].chosen, "A long and careful answer number 4.");
  EXPECT_EQ(dataset_[4].rejected, "No.");
  EXPECT_EQ(dataset_[4].line, 5u);

  const std::vector<TrainPrompt> prompts = select_second_slice();
  ASSERT_EQ(prompts.size(), 3u);
  EXPECT_EQ(prompts.front().dataset_index, 3);
  const auto lines = read_json_lines(round_.prompts());
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[2].at("dataset_index").get<int>(), 5);
  EXPECT_EQ(lines[2].at("line").get<int>(), 6);
  EXPECT_EQ(lines[2].at("record"), dataset_[5].record);

  const std::vector<TrainPrompt> resumed = read_round_prompts(round_.prompts(), dataset_, "prefs.jsonl");
  ASSERT_EQ(resumed.size(), 3u);
  EXPECT_EQ(resumed[1].dataset_index, 4);
  EXPECT_EQ(resumed[1].chosen, dataset_[4].chosen);
  std::vector<TrainPrompt> shorter(dataset_.begin(), dataset_.begin() + 4);
  EXPECT_THROW(read_round_prompts(round_.prompts(), shorter, "prefs.jsonl"), InputError);
}

TEST_F(OnlineRoundStages, GenerateJudgeAndPairPassTheirOutputsOn) {
  const std::vector<TrainPrompt> prompts = select_second_slice();
  LanguageModel lm = load_tiny();
  const std::vector<GenerationRecord> generations =
      run_generate_stage(lm, prompts, short_sampling(1.0), /*samples=*/1, round_, "generate", artifacts_);
  ASSERT_EQ(generations.size(), 3u);
  EXPECT_EQ(generations[2].prompt_index, 2);
  EXPECT_LE(generations[2].token_ids.size(), 6u);
  EXPECT_EQ(read_json_lines(round_.generations()).size(), 3u);
  // A second call finds the file complete: same records, file untouched.
  const std::string generated_text = read_text(round_.generations());
  const auto again = run_generate_stage(lm, prompts, short_sampling(1.0), 1, round_, "generate", artifacts_);
  EXPECT_EQ(read_text(round_.generations()), generated_text);
  EXPECT_EQ(again[1].response, generations[1].response);

  LengthJudge judge;
  const auto requests = candidate_requests(prompts, generations, PairingStrategy::selm, 1, "generations.jsonl");
  const JudgedCandidates judged = run_judge_stage(judge, requests, /*batch_size=*/2, round_, "judge", artifacts_);
  EXPECT_EQ(judge.ranked_requests, 3);
  ASSERT_EQ(judged.judgments.size(), 3u);
  EXPECT_EQ(judged.requests[2].candidates[1], "A long and careful answer number 5.");
  (void)run_judge_stage(judge, requests, 2, round_, "judge", artifacts_);
  EXPECT_EQ(judge.ranked_requests, 3);  // resumed from judgments.jsonl

  // Reading the file back needs no judge and gives the same judgments in request order.
  const std::vector<Judgment> read_back = read_judgment_file(round_.judgments(), requests);
  ASSERT_EQ(read_back.size(), 3u);
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(read_back[i].id, std::to_string(i));
    EXPECT_EQ(read_back[i].ranks, judged.judgments[i].ranks);
  }
  std::vector<JudgeRequest> unknown = requests;
  unknown[0].id = "9";
  EXPECT_THROW(read_judgment_file(round_.judgments(), unknown), InputError);

  // The dataset's long chosen answer is the longest candidate, "No." the shortest.
  const PairedRound paired = pair_judged_candidates(prompts, generations, judged.requests, judged.judgments, 1);
  write_pairing_stage(paired, round_, artifacts_);
  EXPECT_EQ(read_text(round_.pairing()), paired.counts.to_json().dump(2) + "\n");
  const PairingCounts counts = read_pairing_counts(round_.pairing());
  EXPECT_EQ(counts.prompts, 3);
  EXPECT_EQ(counts.pairs + counts.dropped_empty + counts.dropped_ties, 3);
  const auto preferences = read_json_lines(round_.preferences());
  ASSERT_EQ(static_cast<std::int64_t>(preferences.size()), counts.pairs);
  for (const auto& record : preferences) {
    EXPECT_EQ(record.at("rejected").get<std::string>(), "No.");
    EXPECT_TRUE(record.contains("reference_response_logprob"));
  }
}

TEST_F(OnlineRoundStages, ReferenceScoresOnceAndTrainingTakesTheScores) {
  const Config config = load_config({}, {"train.loss=dpo", "train.batch_size=2", "train.max_length=64",
                                         "train.max_prompt_length=32", "train.learning_rate=0.01",
                                         "train.lr_schedule=constant", "train.warmup_ratio=0", "train.log_every=1"});
  write_pairing_stage(dataset_pairs(select_second_slice()), round_, artifacts_);
  LanguageModel lm = load_tiny();
  int model_requests = 0;
  const auto reference = [&]() -> LanguageModel& {
    ++model_requests;
    return lm;
  };
  const ScoredPreferences scored = run_reference_stage(reference, config.train, round_, artifacts_);
  EXPECT_EQ(model_requests, 1);
  ASSERT_EQ(scored.records.size(), 3u);
  ASSERT_EQ(scored.examples.size(), 3u);
  ASSERT_TRUE(scored.records[0].reference_logps.has_value());
  EXPECT_LT(scored.records[0].reference_logps->chosen, 0.0);
  EXPECT_TRUE(fs::exists(round_.reference_scored()));
  // A resumed reference stage reads the stored scores: the same numbers.
  const ScoredPreferences resumed = run_reference_stage(reference, config.train, round_, artifacts_);
  EXPECT_EQ(resumed.records[2].reference_logps->rejected, scored.records[2].reference_logps->rejected);

  run_train_stage(lm, scored, config, "auto", round_, 1, artifacts_);
  EXPECT_TRUE(fs::exists(round_.model() / "model.safetensors"));
  EXPECT_EQ(read_json_lines(round_.train_metrics()).size(), 2u);  // 3 pairs in batches of 2
  EXPECT_NE(read_text(round_.model() / "model.safetensors"), read_text(tiny_model_dir() / "model.safetensors"));

  // No pairs: the reference model is never asked for, and the round's model is its start.
  const RoundPaths empty_round = paths_.round(2);
  fs::create_directories(empty_round.dir);
  test::write_text(empty_round.preferences(), "");
  const ScoredPreferences none = run_reference_stage(reference, config.train, empty_round, artifacts_);
  EXPECT_EQ(model_requests, 2);
  EXPECT_TRUE(none.records.empty());
  LanguageModel start = load_tiny();
  run_train_stage(start, none, config, "auto", empty_round, 2, artifacts_);
  const fs::path copy = dir_ / "copy";
  write_model_directory(load_tiny(), copy, "auto");
  EXPECT_EQ(read_text(empty_round.model() / "model.safetensors"), read_text(copy / "model.safetensors"));
}

TEST_F(OnlineRoundStages, BaselineAndEvalWriteTheirFiles) {
  test::write_text(dir_ / "eval.jsonl", "{\"prompt\": \"What about the sea?\"}\n{\"prompt\": \"Describe it.\"}\n");
  const std::vector<EvalPrompt> prompts = read_eval_prompts(dir_ / "eval.jsonl");
  LanguageModel lm = load_tiny();
  const std::vector<GenerationRecord> baseline = run_baseline_stage(lm, prompts, short_sampling(0.0), paths_, artifacts_);
  ASSERT_EQ(baseline.size(), 2u);
  EXPECT_EQ(read_json_lines(paths_.baseline_generations()).size(), 2u);

  LengthJudge judge;
  EvaluationSettings settings;
  settings.sampling = short_sampling(0.0);
  settings.kl_samples = 0;
  settings.num_examples = 1;
  int reference_loads = 0;
  const auto load_reference = [&] {
    ++reference_loads;
    return load_tiny();
  };
  // The policy is the baseline's model and both answer greedily: every prompt is a tie.
  const EvalRecord record = run_eval_stage(lm, prompts, baseline, judge, settings, load_reference,
                                           EvalProvenance{3, "models/policy", "models/reference"}, round_, artifacts_);
  EXPECT_EQ(reference_loads, 0);
  EXPECT_EQ(read_text(round_.eval()), eval_record_to_json(record).dump(2) + "\n");
  const nlohmann::json eval = nlohmann::json::parse(read_text(paths_.eval_file(1)));
  EXPECT_EQ(eval.at("round").get<int>(), 3);
  EXPECT_EQ(eval.at("model").get<std::string>(), "models/policy");
  EXPECT_EQ(eval.at("reference").get<std::string>(), "models/reference");
  EXPECT_EQ(eval.at("judge").at("id").get<std::string>(), "length");
  EXPECT_EQ(eval.at("prompts").get<int>(), 2);
  EXPECT_EQ(eval.at("ties").get<int>(), 2);
  EXPECT_EQ(eval.at("examples").size(), 1u);
  EXPECT_FALSE(eval.contains("baseline"));
}

}  // namespace
}  // namespace selm
