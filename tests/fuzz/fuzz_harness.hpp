// A small deterministic fuzzer for selm's parsers, run as GoogleTest cases.
//
// Each harness hands run_fuzz() a seed corpus of valid inputs and a parse function. A parser may
// accept an input or refuse it with selm::InputError (exit code 2: bad input, reported to the
// user); anything else it throws, and any sanitizer report in a sanitizer build, is a bug.
// Every case is a pure function of (seed, case index), so a failure replays alone:
//   SELM_FUZZ_SEED=S SELM_FUZZ_CASE=I selm_fuzz_tests --gtest_filter=Fuzz.Name
// SELM_FUZZ_CASES=N changes the number of mutated cases; SELM_FUZZ_REPORT=FILE appends each
// harness's summary to FILE as one JSON line.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace selm::fuzz {

// Deterministic random mutations of byte strings: byte flips, truncation, insertion and
// deletion of bytes, duplicated slices, boundary values (huge and negative numbers, nan, inf,
// JSON literals, invalid UTF-8, NUL), long runs, deep nesting and tokens of a per-harness
// dictionary spliced in.
class Mutator {
 public:
  explicit Mutator(std::uint64_t seed);

  // 1 to 4 stacked mutations of `input`; `dictionary` holds tokens of the format under test
  // (key names, keywords) that random bytes would rarely produce.
  std::string mutate(const std::string& input, const std::vector<std::string>& dictionary = {});

  // Raw random numbers, for harnesses that build inputs of their own.
  std::uint64_t next();
  // Uniform in [0, bound); 0 when bound is 0.
  std::uint64_t below(std::uint64_t bound);

  // The boundary values that mutate() splices in.
  static const std::vector<std::string>& boundary_values();

 private:
  void mutate_once(std::string& bytes, const std::vector<std::string>& dictionary);
  std::uint64_t state_;
};

struct FuzzReport {
  std::string name;
  std::size_t cases = 0;
  std::size_t ok = 0;
  std::size_t input_error = 0;
  std::size_t other = 0;
};

// The seed of case `index` of a run with `seed`: cases are independent of each other.
std::uint64_t case_seed(std::uint64_t seed, std::uint64_t index);

// Runs each corpus entry unmutated (cases 0 .. corpus.size()-1), then `cases` mutated cases: each
// picks a corpus entry and mutates it, then calls parse(bytes). Returning counts as ok, throwing
// selm::InputError as exit 2, anything else as "other": a test failure (ADD_FAILURE) naming the
// harness, seed and case, an escaped excerpt of the input, the message and how to replay it.
// Prints "fuzz NAME: N cases, ok N, exit 2 N, other N" and appends it to $SELM_FUZZ_REPORT.
FuzzReport run_fuzz(const std::string& name, const std::vector<std::string>& corpus,
                    const std::function<void(const std::string& bytes)>& parse, std::size_t cases = 4000,
                    std::uint64_t seed = 20261202, const std::vector<std::string>& dictionary = {});

// `bytes` with non-printable bytes as \xNN, quotes and backslashes escaped, cut after `limit`
// bytes (marked with "...").
std::string escape_excerpt(const std::string& bytes, std::size_t limit = 240);

}  // namespace selm::fuzz
