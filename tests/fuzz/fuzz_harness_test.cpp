// The fuzz harness itself: mutations are deterministic, cases replay alone, and a parser that
// throws anything but InputError fails the test.
#include <gtest/gtest-spi.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <optional>
#include <set>
#include <stdexcept>

#include "fuzz/fuzz_harness.hpp"
#include "selm/util/error.hpp"

namespace selm {
namespace SELM_UNITY_ID {

// The harness's own tests count cases: the replay and count variables of a run that sets them
// (scripts/sanitize.sh sets SELM_FUZZ_CASES) are put aside while they run.
class WithoutFuzzEnvironment {
 public:
  WithoutFuzzEnvironment() {
    for (const char* name : kNames) {
      const char* value = std::getenv(name);
      saved_.push_back(value != nullptr ? std::optional<std::string>(value) : std::nullopt);
      ::unsetenv(name);
    }
  }
  ~WithoutFuzzEnvironment() {
    for (std::size_t i = 0; i < saved_.size(); ++i) {
      if (saved_[i]) ::setenv(kNames[i], saved_[i]->c_str(), 1);
    }
  }

 private:
  static constexpr const char* kNames[] = {"SELM_FUZZ_SEED", "SELM_FUZZ_CASE", "SELM_FUZZ_CASES"};
  std::vector<std::optional<std::string>> saved_;
};

TEST(FuzzHarness, MutationsDependOnTheSeedOnly) {
  const std::string input = R"({"prompt_id": "p1", "score": 0.5, "items": [1, 2, 3]})";
  fuzz::Mutator first(7);
  fuzz::Mutator second(7);
  std::set<std::string> distinct;
  for (int round = 0; round < 200; ++round) {
    const std::string a = first.mutate(input, {"prompt_id"});
    EXPECT_EQ(a, second.mutate(input, {"prompt_id"}));
    distinct.insert(a);
  }
  EXPECT_GT(distinct.size(), 150u);  // the mutations vary
  EXPECT_NE(fuzz::case_seed(1, 0), fuzz::case_seed(1, 1));
  EXPECT_NE(fuzz::case_seed(1, 0), fuzz::case_seed(2, 0));
}

TEST(FuzzHarness, CountsOutcomes) {
  const WithoutFuzzEnvironment clean;
  const auto report = fuzz::run_fuzz(
      "harness_counts", {"1", "22"},
      [](const std::string& bytes) {
        if (bytes.size() % 2 == 0) throw InputError("even");
      },
      100, 5);
  EXPECT_EQ(report.cases, 102u);
  EXPECT_EQ(report.ok + report.input_error, report.cases);
  EXPECT_EQ(report.other, 0u);
  EXPECT_GT(report.ok, 0u);
  EXPECT_GT(report.input_error, 0u);
}

TEST(FuzzHarness, OtherExceptionsFailTheTest) {
  const WithoutFuzzEnvironment clean;
  EXPECT_NONFATAL_FAILURE(fuzz::run_fuzz(
                              "harness_failure", {"x"},
                              [](const std::string& bytes) {
                                if (bytes == "x") throw std::runtime_error("boom");
                              },
                              0),
                          "SELM_FUZZ_CASE=0");
}

TEST(FuzzHarness, EscapesExcerpts) {
  EXPECT_EQ(fuzz::escape_excerpt(std::string("a\"\n\xff\0b", 6)), "a\\\"\\n\\xff\\x00b");
  EXPECT_EQ(fuzz::escape_excerpt("abcdef", 3), "abc...");
}

}  // namespace SELM_UNITY_ID
}  // namespace selm
