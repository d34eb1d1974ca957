// The run-directory contract (run/): file names and paths, and the JSON records written and read
// by `selm train`, `selm eval`, `selm report`, byte for byte as the files hold them.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "selm/run/eval_record.hpp"
#include "selm/run/initial_model_record.hpp"
#include "selm/run/metrics_line.hpp"
#include "selm/run/pairing_counts.hpp"
#include "selm/run/run_paths.hpp"
#include "selm/run/run_state.hpp"
#include "selm/util/error.hpp"
#include "support/test_support.hpp"

namespace selm {
namespace SELM_UNITY_ID {

using test::read_text;
using test::write_text;

TEST(RunDirectory, PathsNameEveryFileOnce) {
  const RunPaths paths{"runs/a"};
  EXPECT_EQ(paths.state(), fs::path("runs/a/state.json"));
  EXPECT_EQ(paths.metrics(), fs::path("runs/a/metrics.jsonl"));
  EXPECT_EQ(paths.initial_model(), fs::path("runs/a/initial_model.json"));
  EXPECT_EQ(paths.baseline_generations(), fs::path("runs/a/baseline/eval_generations.jsonl"));
  EXPECT_EQ(paths.round_dir(2), fs::path("runs/a/round-2"));
  EXPECT_EQ(paths.eval_file(2), fs::path("runs/a/round-2/eval.json"));
  EXPECT_EQ(paths.round(0).pairing(), fs::path("runs/a/round-0/pairing.json"));
  EXPECT_EQ(paths.round(3).reference_scored(), fs::path("runs/a/round-3/preferences_with_reference.jsonl"));
  EXPECT_EQ(round_of_dir_name("round-12"), std::optional<std::int64_t>(12));
  EXPECT_FALSE(round_of_dir_name("round-x").has_value());
  EXPECT_FALSE(round_of_dir_name("baseline").has_value());
}

TEST(RunDirectory, StateKeepsTheFileOrderAndWritesSortedKeys) {
  test::TempDir dir;
  write_text(dir / "state.json",
             "{\"version\": 1, \"config_fingerprint\": \"f\", \"completed\": [\"b\", \"a\"], "
             "\"stage_seconds\": {\"b\": 2.5, \"a\": 1}}");
  RunState state = read_run_state(dir / "state.json");
  ASSERT_EQ(state.stage_seconds.size(), 2u);
  EXPECT_EQ(state.stage_seconds[0].first, "b");
  EXPECT_FALSE(state.finished);
  state.add_seconds("a", 0.5);
  state.add_seconds("c", 0.25);
  write_run_state(SharedArtifacts{}, dir / "out.json", state);
  EXPECT_EQ(read_text(dir / "out.json"),
            "{\n  \"completed\": [\n    \"b\",\n    \"a\"\n  ],\n  \"config_fingerprint\": \"f\",\n"
            "  \"finished\": false,\n  \"stage_seconds\": {\n    \"a\": 1.5,\n    \"b\": 2.5,\n    \"c\": 0.25\n  },\n"
            "  \"version\": 1\n}\n");

  write_text(dir / "v2.json", "{\"version\": 2, \"config_fingerprint\": \"f\", \"completed\": []}");
  EXPECT_THROW(read_run_state(dir / "v2.json"), InputError);
  write_text(dir / "broken.json", "{\"version\": 1,\n\"completed\": [3]}");
  try {
    read_run_state(dir / "broken.json");
    FAIL() << "expected an error";
  } catch (const InputError& error) {
    EXPECT_NE(std::string(error.what()).find("key 'config_fingerprint'"), std::string::npos) << error.what();
  }
}

TEST(RunDirectory, InitialModelRecordRoundTrips) {
  test::TempDir dir;
  InitialModelRecord record;
  record.path = "models/init";
  write_initial_model_record(SharedArtifacts{}, dir / "a.json", record);
  EXPECT_EQ(read_text(dir / "a.json"), "{\n  \"path\": \"models/init\",\n  \"perplexity\": null,\n  \"source\": \"config\"\n}\n");
  record.source = "task:fortunes";
  record.perplexity = 3.25;
  record.initial_perplexity = 300.0;
  record.perplexity_file = "cache/sft_eval.json";
  write_initial_model_record(SharedArtifacts{}, dir / "b.json", record);
  const InitialModelRecord loaded = read_initial_model_record(dir / "b.json");
  EXPECT_EQ(loaded.source, "task:fortunes");
  EXPECT_EQ(loaded.perplexity, std::optional<double>(3.25));
  EXPECT_EQ(loaded.initial_perplexity, std::optional<double>(300.0));
  EXPECT_EQ(loaded.perplexity_file, std::optional<std::string>("cache/sft_eval.json"));
  write_initial_model_record(SharedArtifacts{}, dir / "c.json", loaded);
  EXPECT_EQ(read_text(dir / "c.json"), read_text(dir / "b.json"));
  write_text(dir / "bad.json", "{\"path\": 3}");
  EXPECT_THROW(read_initial_model_record(dir / "bad.json"), InputError);
}

TEST(RunDirectory, EvalRecordAndMetricsLine) {
  EvalRecord record;
  record.result = {{"wins", 3}, {"scores", {0.5, nullptr}}, {"examples", nlohmann::json::array()}, {"kl", nullptr}};
  record.model = "m";
  record.judge_id = "lexicon";
  record.judge_config_hash = "abc";
  EXPECT_EQ(eval_record_to_json(record).dump(),
            "{\"examples\":[],\"judge\":{\"config_hash\":\"abc\",\"id\":\"lexicon\"},\"kl\":null,\"model\":\"m\","
            "\"reference\":null,\"scores\":[0.5,null],\"wins\":3}");
  record.round = 2;
  record.reference = "r";
  record.baseline = "b";
  const nlohmann::json value = eval_record_to_json(record);
  EXPECT_EQ(value.at("round").get<int>(), 2);
  EXPECT_EQ(value.at("reference").get<std::string>(), "r");
  EXPECT_EQ(value.at("baseline").get<std::string>(), "b");

  MetricsLine line;
  line.round = 2;
  line.loss = "selm";
  line.alpha = 0.001;
  line.beta = 0.1;
  line.learning_rate = 1e-6;
  line.eval = value;
  PairingCounts counts;
  counts.add(PairingOutcome::pair);
  counts.add(PairingOutcome::tie);
  line.pairing = counts;
  line.train_loss = 0.5;
  line.stage_seconds = {{"train", 4.0}};
  EXPECT_EQ(metrics_line_to_json(line).dump(),
            "{\"alpha\":0.001,\"baseline\":\"b\",\"beta\":0.1,\"dropped_abstained\":0,\"dropped_empty\":0,"
            "\"dropped_failed\":0,\"dropped_ties\":1,\"judge\":{\"config_hash\":\"abc\",\"id\":\"lexicon\"},\"kl\":null,"
            "\"learning_rate\":1e-06,\"loss\":\"selm\",\"model\":\"m\",\"pairs\":1,\"reference\":\"r\",\"round\":2,"
            "\"stage_seconds\":{\"train\":4.0},\"train_accuracy\":null,\"train_loss\":0.5,\"train_margin\":null,"
            "\"wins\":3}");
}

TEST(RunDirectory, PairingCountsFile) {
  test::TempDir dir;
  PairingCounts counts;
  for (PairingOutcome outcome : {PairingOutcome::pair, PairingOutcome::empty, PairingOutcome::failed}) counts.add(outcome);
  write_pairing_counts(SharedArtifacts{}, dir / "pairing.json", counts);
  EXPECT_EQ(read_text(dir / "pairing.json"),
            "{\n  \"dropped_abstained\": 0,\n  \"dropped_empty\": 1,\n  \"dropped_failed\": 1,\n  \"dropped_ties\": 0,\n"
            "  \"pairs\": 1,\n  \"prompts\": 3\n}\n");
  const PairingCounts loaded = read_pairing_counts(dir / "pairing.json");
  EXPECT_EQ(loaded.prompts, 3);
  EXPECT_EQ(loaded.dropped_empty, 1);
  write_text(dir / "bad.json", "{\"pairs\": \"many\"}");
  EXPECT_THROW(read_pairing_counts(dir / "bad.json"), InputError);
}

}  // namespace
}  // namespace selm
