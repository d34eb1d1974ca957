// The parallel seam at world size 1 and on a would-be second rank: who writes shared artifacts.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "selm/parallel/parallel_context.hpp"
#include "selm/parallel/shared_artifacts.hpp"
#include "support/test_support.hpp"

namespace selm {
namespace SELM_UNITY_ID {

using test::read_text;
using test::TempDir;

TEST(ParallelContext, DefaultIsOneProcessThatWrites) {
  const ParallelContext single;
  EXPECT_EQ(single.rank, 0);
  EXPECT_EQ(single.world_size, 1);
  EXPECT_FALSE(single.is_distributed());
  EXPECT_TRUE(single.writes_shared_artifacts());
  EXPECT_EQ(single.describe(), "rank 0/1");
  EXPECT_NO_THROW(single.validate());
}

TEST(ParallelContext, ValidateRejectsInconsistentRanks) {
  EXPECT_THROW((ParallelContext{2, 2, 0, 1, nullptr}).validate(), std::invalid_argument);
  EXPECT_THROW((ParallelContext{0, 0, 0, 1, nullptr}).validate(), std::invalid_argument);
  EXPECT_THROW((ParallelContext{1, 4, 2, 2, nullptr}).validate(), std::invalid_argument);
  EXPECT_THROW((ParallelContext{1, 2, 0, 3, nullptr}).validate(), std::invalid_argument);
  EXPECT_NO_THROW((ParallelContext{3, 4, 1, 2, nullptr}).validate());
  EXPECT_TRUE((ParallelContext{3, 4, 1, 2, nullptr}).is_distributed());
  EXPECT_FALSE((ParallelContext{3, 4, 1, 2, nullptr}).writes_shared_artifacts());
}

TEST(SharedArtifacts, RankZeroWritesFilesAndJsonl) {
  TempDir dir;
  const SharedArtifacts artifacts(ParallelContext{0, 2, 0, 2, nullptr});
  artifacts.write_file(dir / "state.json", "{}\n");
  bool ran = false;
  artifacts.write_with([&] { ran = true; });
  {
    SharedArtifacts::Jsonl jsonl(artifacts, dir / "merged.jsonl");
    jsonl.write(nlohmann::json{{"i", 1}});
    jsonl.write(nlohmann::json{{"i", 2}});
  }
  EXPECT_EQ(read_text(dir / "state.json"), "{}\n");
  EXPECT_TRUE(ran);
  EXPECT_EQ(read_text(dir / "merged.jsonl"), "{\"i\":1}\n{\"i\":2}\n");
}

TEST(SharedArtifacts, OtherRanksWriteNothing) {
  TempDir dir;
  const SharedArtifacts artifacts(ParallelContext{1, 2, 1, 2, nullptr});
  artifacts.write_file(dir / "state.json", "{}\n");
  bool ran = false;
  artifacts.write_with([&] { ran = true; });
  {
    SharedArtifacts::Jsonl jsonl(artifacts, dir / "merged.jsonl");
    jsonl.write(nlohmann::json{{"i", 1}});
  }
  EXPECT_FALSE(fs::exists(dir / "state.json"));
  EXPECT_FALSE(ran);
  EXPECT_FALSE(fs::exists(dir / "merged.jsonl"));
}

}  // namespace
}  // namespace selm
