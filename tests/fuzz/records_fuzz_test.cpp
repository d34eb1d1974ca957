// Every JSONL record kind under mutated files: prompts, preferences, SFT records, candidates
// (judge requests and generation records) and judgments. Each file is read, or refused with an
// InputError naming the file; what is read must be usable (judgments fit their requests) and
// written back without throwing.
#include <gtest/gtest.h>

#include <filesystem>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "fuzz/fuzz_harness.hpp"
#include "selm/data/records.hpp"
#include "selm/generate/generation_record.hpp"
#include "selm/judge/judge_file.hpp"
#include "selm/judge/judgment.hpp"
#include "selm/online/train_prompts.hpp"
#include "selm/util/error.hpp"
#include "selm/util/files.hpp"
#include "support/test_support.hpp"

namespace selm {
namespace SELM_UNITY_ID {

namespace fs = std::filesystem;

const std::vector<std::string> kRecordDictionary = {
    "\"prompt\"", "\"chosen\"", "\"rejected\"", "\"reference_response\"", "\"reference_response_token_ids\"",
    "\"reference_logps\"", "\"messages\"", "\"role\"", "\"content\"", "\"user\"", "\"assistant\"", "\"system\"",
    "\"response\"", "\"text\"", "\"id\"", "\"candidates\"", "\"status\"", "\"ok\"", "\"failed\"", "\"abstained\"",
    "\"order\"", "\"ranks\"", "\"scores\"", "\"reason\"", "\"judge\"", "\"config_hash\"", "\"prompt_index\"",
    "\"sample_index\"", "\"token_ids\"", "\"logprob\"", "\"finish_reason\"", "\"dataset_index\"", "\"line\"",
    "\"record\"", "\n", ": ", ", ", "[", "]", "{", "}", "\"\\u00e9\"", "\"\\ud83d\\ude00\"",
};

const char* const kPreferences =
    R"({"prompt": "Tell me a fortune.", "chosen": "You will be happy.", "rejected": "Rain tomorrow."})" "\n"
    R"({"prompt": [{"role": "system", "content": "Be kind."}, {"role": "user", "content": "Hi"}], "chosen": "Hello!", "rejected": "Go away.", "reference_response": "Hey.", "reference_response_token_ids": [5, 6, 2], "reference_logps": {"chosen": -3.5, "rejected": -7.25, "reference_response": -1.0}})" "\n"
    R"({"chosen": [{"role": "user", "content": "Q?"}, {"role": "assistant", "content": "Yes."}], "rejected": [{"role": "user", "content": "Q?"}, {"role": "assistant", "content": "No."}]})" "\n";

const char* const kSft =
    R"({"prompt": "Say hi", "response": "Hi!"})" "\n"
    R"({"messages": [{"role": "system", "content": "Brief."}, {"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "4"}]})" "\n"
    R"({"text": "A fortune a day keeps the doubts away."})" "\n";

const char* const kPrompts =
    R"({"prompt": "Tell me a fortune."})" "\n"
    R"({"prompt": [{"role": "user", "content": "Hello"}]})" "\n"
    R"({"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hey"}]})" "\n";

const char* const kRequests =
    R"({"id": "a", "prompt": "Pick one", "candidates": ["good", "bad"]})" "\n"
    R"({"id": 7, "prompt": "Three", "candidates": ["x", "y", "z"]})" "\n"
    R"({"prompt": "Alone", "candidates": ["only"]})" "\n";

const char* const kGenerations =
    R"({"prompt_index": 0, "sample_index": 0, "prompt": "p", "response": "r", "token_ids": [1, 2, 3], "logprob": -1.5, "finish_reason": "eos", "prompt_tokens": 4})" "\n"
    R"({"prompt_index": 1, "sample_index": 0, "prompt": [{"role": "user", "content": "q"}], "response": "", "token_ids": [], "logprob": 0, "finish_reason": "length"})" "\n"
    R"({"prompt_index": 0, "sample_index": 1, "response": "s", "token_ids": [9], "logprob": -0.25})";

const char* const kJudgments =
    R"({"id": "0", "judge": "lexicon", "config_hash": "abcd", "status": "ok", "order": [1, 0], "ranks": [2, 1], "scores": [0.1, 0.9]})" "\n"
    R"({"id": "1", "judge": "http:m", "config_hash": "ef01", "status": "abstained", "reason": "unparseable verdict"})" "\n"
    R"({"id": "2", "judge": "command:j.py", "config_hash": "", "status": "failed", "reason": "judge command crashed"})" "\n"
    R"({"id": "3", "judge": "lexicon", "config_hash": "abcd", "status": "ok", "order": [0, 2, 1], "ranks": [1, 2, 2], "scores": [3, 1, 1]})" "\n";

const char* const kRoundPrompts =
    R"({"dataset_index": 0, "line": 1, "record": {"prompt": "Tell me a fortune."}})" "\n"
    R"({"dataset_index": 2, "line": 3, "record": {"prompt": "x"}})" "\n";

// Runs one record kind: `read` gets the path of a file holding the mutated bytes.
void fuzz_records(const std::string& name, const std::string& seed_file, const std::function<void(const fs::path&)>& read) {
  test::TempDir dir;
  const fs::path path = dir / (name + ".jsonl");
  // Lines of several corpus files mixed: records of one kind in another kind's file.
  const std::vector<std::string> corpus = {seed_file, std::string(seed_file) + kJudgments, std::string(seed_file) + "\n\n"};
  const auto report = fuzz::run_fuzz(
      name, corpus,
      [&](const std::string& bytes) {
        test::write_text(path, bytes);
        read(path);
      },
      2000, 20261202, kRecordDictionary);
  EXPECT_EQ(report.other, 0u);
}

// Writing back what was read must work: the records are valid JSON values again.
void expect_dumps(const nlohmann::json& value) { (void)value.dump(); }

TEST(FuzzRecords, Preferences) {
  fuzz_records("preferences", kPreferences, [](const fs::path& path) {
    for (const PreferenceRecord& record : read_preference_file(path)) expect_dumps(preference_record_to_json(record));
    read_train_prompts(path.string(), /*with_pairs=*/true);
  });
}

TEST(FuzzRecords, Sft) {
  fuzz_records("sft", kSft, [](const fs::path& path) { read_sft_file(path); });
}

TEST(FuzzRecords, Prompts) {
  fuzz_records("prompts", kPrompts, [](const fs::path& path) {
    for (const TrainPrompt& prompt : read_train_prompts(path.string(), /*with_pairs=*/false)) {
      expect_dumps(prompt_value(prompt));
    }
  });
}

TEST(FuzzRecords, RoundPrompts) {
  test::TempDir dir;
  const fs::path train_file = dir / "train.jsonl";
  test::write_text(train_file, kPrompts);
  const std::vector<TrainPrompt> dataset = read_train_prompts(train_file.string(), false);
  fuzz_records("round_prompts", kRoundPrompts, [&](const fs::path& path) {
    const std::vector<TrainPrompt> prompts = read_round_prompts(path, dataset, train_file.string());
    (void)prompts_jsonl(prompts);  // the round's prompts.jsonl is written from them
  });
}

TEST(FuzzRecords, Candidates) {
  fuzz_records("candidates", kRequests, [](const fs::path& path) {
    for (const JudgeRequest& request : read_judge_requests(path)) {
      if (request.candidates.empty()) throw std::logic_error("a request without candidates was accepted");
    }
  });
}

TEST(FuzzRecords, Generations) {
  fuzz_records("generations", kGenerations, [](const fs::path& path) { read_generation_file(path); });
}

// The requests the judgment file answers: ids 0..3 with 2, 3, 2 and 3 candidates.
std::vector<JudgeRequest> judged_requests() {
  return {{"0", "p", {"a", "b"}}, {"1", "p", {"a", "b", "c"}}, {"2", "p", {"a", "b"}}, {"3", "p", {"a", "b", "c"}}};
}

TEST(FuzzRecords, Judgments) {
  const std::vector<JudgeRequest> requests = judged_requests();
  fuzz_records("judgments", kJudgments, [&](const fs::path& path) {
    const std::vector<Judgment> judgments = read_judgment_file(path, requests);
    for (std::size_t k = 0; k < judgments.size(); ++k) {
      const Judgment& judgment = judgments[k];
      expect_dumps(judgment_to_json(judgment));
      if (!judgment.is_ok()) continue;
      // Pairing indexes the candidates with these: they must fit the request.
      const std::size_t n = requests[k].candidates.size();
      if (judgment.order.size() != n || judgment.ranks.size() != n) {
        throw std::logic_error("an ok judgment of another size than its request was accepted");
      }
      for (const std::int64_t index : judgment.order) {
        if (index < 0 || index >= static_cast<std::int64_t>(n)) throw std::logic_error("order index out of range");
      }
      for (const std::int64_t rank : judgment.ranks) {
        if (rank < 1 || rank > static_cast<std::int64_t>(n)) throw std::logic_error("rank out of range");
      }
      if (judgment.scores && judgment.scores->size() != n) throw std::logic_error("scores of another size accepted");
    }
  });
}

}  // namespace SELM_UNITY_ID
}  // namespace selm
