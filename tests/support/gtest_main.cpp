// main() of every test suite: GoogleTest's, plus one exit code. CTest runs each GoogleTest suite
// (Fixture.*) as one test (cmake/SelmTestGroups.cmake), and a process whose tests all skipped,
// none failing, exits with kAllSkipped so that CTest reports it as skipped rather than passed.
#include <gtest/gtest.h>

namespace {
constexpr int kAllSkipped = 77;  // SKIP_RETURN_CODE in tests/CMakeLists.txt
}

int main(int argc, char** argv) {
  testing::InitGoogleTest(&argc, argv);
  const int result = RUN_ALL_TESTS();
  const auto& unit_test = *testing::UnitTest::GetInstance();
  if (result == 0 && unit_test.successful_test_count() == 0 && unit_test.skipped_test_count() > 0) return kAllSkipped;
  return result;
}
