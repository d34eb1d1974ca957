// Logging: the line format with and without a rank tag, the console's level filter, and the log
// file, which gets every line.
#include <gtest/gtest.h>

#include <functional>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "support/test_support.hpp"
#include "selm/util/log.hpp"

namespace selm {
namespace SELM_UNITY_ID {

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream stream(text);
  std::string line;
  while (std::getline(stream, line)) lines.push_back(line);
  return lines;
}

// The lines of `file` after logging with `write` while it is the log file.
std::vector<std::string> lines_logged_to(const std::filesystem::path& file, const std::function<void()>& write) {
  log::set_file(file);
  write();
  log::set_file("");
  return lines_of(test::read_text(file));
}

// "YYYY-MM-DD HH:MM:SS " and then `rest` exactly.
void expect_line(const std::string& line, const std::string& rest) {
  static const std::regex stamp(R"(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} )");
  std::smatch match;
  ASSERT_TRUE(std::regex_search(line, match, stamp, std::regex_constants::match_continuous)) << line;
  EXPECT_EQ(line.substr(static_cast<std::size_t>(match.length(0))), rest) << line;
}

// Leaves the process logger as every other test expects it.
class UtilLog : public ::testing::Test {
 protected:
  void TearDown() override {
    log::set_file("");
    log::set_rank(0, 1);
    log::set_level(log::Level::info);
  }
  test::TempDir dir_;
};

TEST_F(UtilLog, FileGetsEveryLevelInTheFixedFormat) {
  log::set_level(log::Level::error);  // the console threshold does not filter the file
  const auto lines = lines_logged_to(dir_ / "log.txt", [] {
    log::debug("first {} with braces");
    log::info("second");
    log::warn("third");
    log::error("fourth");
  });
  log::info("after the file was closed");
  ASSERT_EQ(lines_of(test::read_text(dir_ / "log.txt")).size(), 4u);
  ASSERT_EQ(lines.size(), 4u);
  expect_line(lines[0], "[debug] first {} with braces");
  expect_line(lines[1], "[info] second");
  expect_line(lines[2], "[warn] third");
  expect_line(lines[3], "[error] fourth");
}

TEST_F(UtilLog, SetFileAppendsToAnExistingLog) {
  test::write_text(dir_ / "log.txt", "earlier line\n");
  const auto lines = lines_logged_to(dir_ / "log.txt", [] { log::info("resumed"); });
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0], "earlier line");
  expect_line(lines[1], "[info] resumed");
}

TEST_F(UtilLog, LinesNameTheRankOnlyWithSeveralRanks) {
  const auto lines = lines_logged_to(dir_ / "log.txt", [] {
    log::set_rank(2, 4);
    log::warn("from rank two");
    log::set_rank(0, 1);
    log::info("single process");
  });
  ASSERT_EQ(lines.size(), 2u);
  expect_line(lines[0], "[rank 2] [warn] from rank two");
  expect_line(lines[1], "[info] single process");
}

TEST_F(UtilLog, RankTagReachesAFileOpenedLater) {
  log::set_rank(1, 2);  // before the file sink exists
  const auto lines = lines_logged_to(dir_ / "log.txt", [] { log::debug("late file"); });
  ASSERT_EQ(lines.size(), 1u);
  expect_line(lines[0], "[rank 1] [debug] late file");
}

TEST_F(UtilLog, RejectsRanksOutsideTheWorld) {
  EXPECT_THROW(log::set_rank(4, 4), std::invalid_argument);
  EXPECT_THROW(log::set_rank(-1, 2), std::invalid_argument);
  EXPECT_THROW(log::set_rank(0, 0), std::invalid_argument);
}

TEST_F(UtilLog, ConsoleShowsLinesAtOrAboveItsLevel) {
  log::set_level(log::Level::warn);
  testing::internal::CaptureStderr();
  log::info("quiet info");
  log::warn("loud warning");
  log::error("loud error");
  const auto lines = lines_of(testing::internal::GetCapturedStderr());
  ASSERT_EQ(lines.size(), 2u);
  expect_line(lines[0], "[warn] loud warning");
  expect_line(lines[1], "[error] loud error");

  log::set_level(log::Level::debug);
  testing::internal::CaptureStderr();
  log::debug("verbose detail");
  const auto verbose = lines_of(testing::internal::GetCapturedStderr());
  ASSERT_EQ(verbose.size(), 1u);
  expect_line(verbose[0], "[debug] verbose detail");
}

TEST_F(UtilLog, UnopenableFileIsAnErrorNamingIt) {
  test::write_text(dir_ / "plain_file", "x");
  const auto inside_a_file = dir_ / "plain_file" / "log.txt";
  try {
    log::set_file(inside_a_file);
    FAIL() << "no error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(inside_a_file.string()), std::string::npos) << e.what();
  }
  log::info("still logging to the console");
}

}  // namespace
}  // namespace selm
