// read_jsonl's reading side: records with their line numbers, blank lines, a partial last line,
// and the line length limit that refuses a huge line while reading it; and JsonlWriter's shared
// appends.
#include <gtest/gtest.h>

#include <unistd.h>

#include <set>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "selm/util/error.hpp"
#include "selm/util/files.hpp"
#include "support/test_support.hpp"

namespace selm {
namespace SELM_UNITY_ID {

TEST(UtilJsonlRead, RecordsKeepTheirLineNumbers) {
  test::TempDir dir;
  test::write_text(dir / "a.jsonl", "{\"a\": 1}\n\n  \r\n[2]\n\"three\"");
  const auto records = read_jsonl(dir / "a.jsonl");
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(records[0].first, 1u);
  EXPECT_EQ(records[1].first, 4u);
  EXPECT_EQ(records[1].second, nlohmann::json::array({2}));
  EXPECT_EQ(records[2].first, 5u);
}

TEST(UtilJsonlRead, PartialLastLineIsToleratedOnlyWhenAsked) {
  test::TempDir dir;
  test::write_text(dir / "a.jsonl", "{\"a\": 1}\n{\"a\": ");
  EXPECT_EQ(read_jsonl(dir / "a.jsonl", /*tolerate_partial_tail=*/true).size(), 1u);
  const std::string message = test::input_error_of([&] { read_jsonl(dir / "a.jsonl"); });
  EXPECT_NE(message.find("a.jsonl:2: invalid JSON"), std::string::npos) << message;
}

// Lines that span the reader's blocks are put together again.
TEST(UtilJsonlRead, LinesLongerThanABlockAreRead) {
  test::TempDir dir;
  const std::string long_text(200 * 1000, 'x');
  test::write_text(dir / "a.jsonl", "\"" + long_text + "\"\n\"" + long_text + "y\"\n");
  const auto records = read_jsonl(dir / "a.jsonl");
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[1].second.get<std::string>(), long_text + "y");
  EXPECT_EQ(records[1].first, 2u);
}

TEST(UtilJsonlRead, LineOverTheLimitIsRefusedNamingFileAndLine) {
  test::TempDir dir;
  test::write_text(dir / "a.jsonl", "[1]\n\"" + std::string(1000, 'x') + "\"\n[3]\n");
  EXPECT_EQ(read_jsonl(dir / "a.jsonl", false, 1002).size(), 3u);  // exactly at the limit
  const std::string message = test::input_error_of([&] { read_jsonl(dir / "a.jsonl", false, 1001); });
  EXPECT_NE(message.find("a.jsonl:2: line longer than 1001 bytes"), std::string::npos) << message;
  // An unterminated last line counts as well, tolerated tail or not.
  test::write_text(dir / "b.jsonl", "[1]\n" + std::string(5000, ' '));
  EXPECT_NE(test::input_error_of([&] { read_jsonl(dir / "b.jsonl", true, 4096); }).find("b.jsonl:2: line longer"),
            std::string::npos);
}

// A record nested a million deep is refused before it is parsed: copying or quoting the parsed
// value would recurse once per level and overflow the stack.
TEST(UtilJsonlRead, DeepNestingIsRefusedNamingFileAndLine) {
  test::TempDir dir;
  const std::size_t depth = 1000000;
  test::write_text(dir / "a.jsonl", "{\"prompt\": \"fine\"}\n{\"prompt\": " + std::string(depth, '[') +
                                        std::string(depth, ']') + "}\n");
  const std::string message = test::input_error_of([&] { read_jsonl(dir / "a.jsonl"); });
  EXPECT_NE(message.find("a.jsonl:2: JSON nested deeper than 512 levels"), std::string::npos) << message;
  // Brackets inside strings are text, at any count.
  test::write_text(dir / "b.jsonl", "{\"prompt\": \"" + std::string(depth, '[') + "\"}\n");
  EXPECT_EQ(read_jsonl(dir / "b.jsonl").size(), 1u);
}

// A 2 GiB line in a sparse file (no disk used): refused at the default limit after reading only
// the limit's worth, never the whole line.
TEST(UtilJsonlRead, HugeLineOfTheDefaultLimitIsRefused) {
  test::TempDir dir;
  const auto path = dir / "huge.jsonl";
  test::write_text(path, "[1]\n");
  ASSERT_EQ(::truncate(path.c_str(), static_cast<off_t>(2) << 30), 0);
  const std::string message = test::input_error_of([&] { read_jsonl(path); });
  EXPECT_NE(message.find("huge.jsonl:2: line longer than " + std::to_string(kMaxJsonlLineBytes) + " bytes"),
            std::string::npos)
      << message;
}

// Writers that share a file (the judgment cache of a sweep's runs): every record arrives whole,
// however the appends and the other writers' openings, which drop a partial last line,
// interleave. Separate descriptors lock each other as separate processes would.
TEST(UtilJsonlWrite, SharedWritersNeverCutEachOthersRecords) {
  test::TempDir dir;
  const fs::path file = dir / "cache.jsonl";
  const std::string payload(300 * 1000, 'x');  // far more than one stdio buffer
  constexpr int kWriters = 3;
  constexpr int kRecords = 40;
  std::vector<std::thread> threads;
  for (int w = 0; w < kWriters; ++w) {
    threads.emplace_back([&, w] {
      for (int r = 0; r < kRecords; ++r) {
        JsonlWriter writer(file, /*append=*/true, /*shared=*/true);  // each opening checks the tail
        writer.write({{"writer", w}, {"record", r}, {"payload", payload}});
      }
    });
  }
  for (auto& thread : threads) thread.join();
  const auto records = read_jsonl(file);
  ASSERT_EQ(records.size(), static_cast<std::size_t>(kWriters * kRecords));
  std::set<std::pair<int, int>> seen;
  for (const auto& [line, record] : records) {
    EXPECT_EQ(record.at("payload").get<std::string>().size(), payload.size()) << line;
    seen.insert({record.at("writer").get<int>(), record.at("record").get<int>()});
  }
  EXPECT_EQ(seen.size(), static_cast<std::size_t>(kWriters * kRecords));
}

// A record cut off by a crash is dropped when the file is opened again, shared or not.
TEST(UtilJsonlWrite, OpeningDropsAPartialLastLine) {
  test::TempDir dir;
  for (const bool shared : {false, true}) {
    const fs::path file = dir / (shared ? "shared.jsonl" : "own.jsonl");
    test::write_text(file, "{\"a\": 1}\n{\"a\": 2, \"cut");
    JsonlWriter(file, /*append=*/true, shared).write({{"a", 3}});
    EXPECT_EQ(test::read_text(file), "{\"a\": 1}\n{\"a\":3}\n") << shared;
  }
}

}  // namespace SELM_UNITY_ID
}  // namespace selm
