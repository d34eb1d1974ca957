// HfTokenizer against Hugging Face's reference on four real tokenizers (Qwen 3, Gemma 3,
// DeepSeek V3 and a Llama 2 style SentencePiece BPE), over the cases of
// tests/data/tokenizer_corpus/corpus.txt. The expected values in tests/data/tokenizer_golden/
// were written by scripts/dev/make_tokenizer_goldens.mjs with @huggingface/tokenizers; the
// tokenizers themselves come from the cache that scripts/fetch_test_data.py fills.
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "selm/text/hf_tokenizer.hpp"
#include "selm/text/tokenizer_config.hpp"
#include "selm/util/files.hpp"
#include "selm/util/sha256.hpp"
#include "support/test_support.hpp"

namespace selm::test {
namespace SELM_UNITY_ID {

using Ids = std::vector<std::int64_t>;

// The values of a JSONL file, in order (InputError naming the file when it is missing or bad).
std::vector<nlohmann::json> read_json_lines(const fs::path& path) {
  std::vector<nlohmann::json> values;
  for (auto& [line, value] : read_jsonl(path)) values.push_back(std::move(value));
  return values;
}

const std::vector<std::string>& corpus() {
  static const std::vector<std::string> cases = [] {
    std::vector<std::string> texts;
    for (const nlohmann::json& value : read_json_lines(test_data_dir() / "tokenizer_corpus" / "corpus.txt"))
      texts.push_back(value.get<std::string>());
    return texts;
  }();
  return cases;
}

struct Golden {
  nlohmann::json meta;
  std::vector<nlohmann::json> records;  // one per corpus case
};

const Golden& golden(const std::string& name) {
  static std::map<std::string, Golden> loaded;
  auto found = loaded.find(name);
  if (found != loaded.end()) return found->second;
  std::vector<nlohmann::json> lines = read_json_lines(test_data_dir() / "tokenizer_golden" / (name + ".jsonl"));
  Golden result;
  if (!lines.empty()) {
    result.meta = lines.front();
    result.records.assign(lines.begin() + 1, lines.end());
  }
  return loaded.emplace(name, std::move(result)).first->second;
}

// Loaded once per process: Gemma 3's tokenizer.json is 33 MB.
const HfTokenizer* real_tokenizer(const std::string& name) {
  static std::map<std::string, std::unique_ptr<HfTokenizer>> loaded;
  auto found = loaded.find(name);
  if (found != loaded.end()) return found->second.get();
  const fs::path dir = real_tokenizer_dir(name);
  if (!fs::is_regular_file(dir / "tokenizer.json")) return nullptr;
  const TokenizerConfig config = fs::is_regular_file(dir / "tokenizer_config.json")
                                     ? read_tokenizer_config(dir / "tokenizer_config.json")
                                     : TokenizerConfig{};
  return loaded.emplace(name, HfTokenizer::load(dir / "tokenizer.json", config)).first->second.get();
}

// Hashed once per process, like the loading.
const std::string& tokenizer_json_sha256(const std::string& name) {
  static std::map<std::string, std::string> hashes;
  auto found = hashes.find(name);
  if (found == hashes.end())
    found = hashes.emplace(name, sha256_hex(read_text(real_tokenizer_dir(name) / "tokenizer.json"))).first;
  return found->second;
}

std::string ids_text(const Ids& ids) {
  std::ostringstream out;
  out << "[";
  for (std::size_t i = 0; i < ids.size(); ++i) out << (i ? ", " : "") << ids[i];
  out << "]";
  return out.str();
}

// Collects disagreements and describes the first few.
class Mismatches {
 public:
  void add(std::size_t case_index, const std::string& expected, const std::string& actual) {
    ++count_;
    if (count_ > 5) return;
    // Corpus case i is line i + 1 of corpus.txt.
    report_ << "\n  corpus.txt line " << case_index + 1 << ": " << nlohmann::json(corpus()[case_index]).dump()
            << "\n    reference: " << expected << "\n    selm:      " << actual;
  }
  void add_ids(std::size_t case_index, const Ids& expected, const Ids& actual) {
    if (expected != actual) add(case_index, ids_text(expected), ids_text(actual));
  }
  std::size_t count() const { return count_; }
  std::string report() const { return std::to_string(count_) + " mismatches (first shown):" + report_.str(); }

 private:
  std::size_t count_ = 0;
  std::ostringstream report_;
};

class HfTokenizerGolden : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    tokenizer_ = real_tokenizer(GetParam());
    if (tokenizer_ == nullptr) GTEST_SKIP() << "the real tokenizer is missing (see the failure above)";
    const Golden& expected = golden(GetParam());
    ASSERT_EQ(expected.records.size(), corpus().size())
        << "tests/data/tokenizer_golden/" << GetParam() << ".jsonl does not match corpus.txt: rerun "
        << "node scripts/dev/make_tokenizer_goldens.mjs";
    ASSERT_EQ(expected.meta.value("tokenizer_json_sha256", ""), tokenizer_json_sha256(GetParam()))
        << "the cached tokenizer.json is not the one the golden file was made from";
    records_ = &expected.records;
  }

  static Ids ids_of(const nlohmann::json& record, const char* key) { return record.at(key).get<Ids>(); }

  const HfTokenizer* tokenizer_ = nullptr;
  const std::vector<nlohmann::json>* records_ = nullptr;
};

TEST_P(HfTokenizerGolden, IdsWithoutSpecialTokensAddedEqualTheReference) {
  Mismatches mismatches;
  for (std::size_t i = 0; i < corpus().size(); ++i)
    mismatches.add_ids(i, ids_of((*records_)[i], "ids"), tokenizer_->encode_with_special_tokens(corpus()[i]));
  EXPECT_EQ(mismatches.count(), 0u) << mismatches.report();
}

TEST_P(HfTokenizerGolden, PostProcessedIdsEqualTheReference) {
  Mismatches mismatches;
  std::size_t checked = 0;
  for (std::size_t i = 0; i < corpus().size(); ++i) {
    const nlohmann::json& record = (*records_)[i];
    if (!record.contains("with_special")) continue;
    ++checked;
    mismatches.add_ids(i, ids_of(record, "with_special"), tokenizer_->encode_with_post_processor(corpus()[i]));
  }
  EXPECT_GT(checked, 100u);
  EXPECT_EQ(mismatches.count(), 0u) << mismatches.report();
}

// encode(): special added tokens are ordinary text (the reference ran without them).
TEST_P(HfTokenizerGolden, PlainIdsEqualTheReferenceWithoutSpecialTokens) {
  Mismatches mismatches;
  for (std::size_t i = 0; i < corpus().size(); ++i) {
    const nlohmann::json& record = (*records_)[i];
    mismatches.add_ids(i, ids_of(record, record.contains("plain") ? "plain" : "ids"), tokenizer_->encode(corpus()[i]));
  }
  EXPECT_EQ(mismatches.count(), 0u) << mismatches.report();
}

// encode_continuation(): as encode() with the start-of-text prefix steps switched off.
TEST_P(HfTokenizerGolden, ContinuationIdsEqualTheReferenceWithoutThePrefix) {
  const std::size_t every = golden(GetParam()).meta.value("continuation_every", 0);
  ASSERT_GT(every, 0u);
  Mismatches mismatches;
  for (std::size_t i = 0; i < corpus().size(); i += every) {
    const nlohmann::json& record = (*records_)[i];
    const char* key = record.contains("continuation") ? "continuation" : record.contains("plain") ? "plain" : "ids";
    mismatches.add_ids(i, ids_of(record, key), tokenizer_->encode_continuation(corpus()[i]));
  }
  EXPECT_EQ(mismatches.count(), 0u) << mismatches.report();
}

TEST_P(HfTokenizerGolden, DecodeEqualsTheReference) {
  Mismatches mismatches;
  std::size_t round_trips = 0;
  for (std::size_t i = 0; i < corpus().size(); ++i) {
    const nlohmann::json& record = (*records_)[i];
    const bool round_trip = record.at("rt").get<bool>();
    round_trips += round_trip ? 1 : 0;
    const std::string expected = round_trip ? corpus()[i] : record.at("decoded").get<std::string>();
    const std::string actual = tokenizer_->decode(ids_of(record, "ids"), /*skip_special_tokens=*/false);
    if (actual != expected) mismatches.add(i, nlohmann::json(expected).dump(), nlohmann::json(actual).dump());
  }
  EXPECT_GT(round_trips, corpus().size() * 9 / 10);
  EXPECT_EQ(mismatches.count(), 0u) << mismatches.report();
}

INSTANTIATE_TEST_SUITE_P(RealTokenizers, HfTokenizerGolden,
                         ::testing::Values("qwen3", "gemma3", "deepseek_v3", "llama2"),
                         [](const ::testing::TestParamInfo<std::string>& info) { return info.param; });

}  // namespace
}  // namespace selm::test
