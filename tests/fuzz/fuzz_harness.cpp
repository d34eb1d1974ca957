#include "fuzz/fuzz_harness.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>

#include "selm/util/error.hpp"

namespace selm::fuzz {
namespace {

// Inputs grow with stacked insertions; past this they only cost time, the parsers' own size
// limits are tested by unit tests.
constexpr std::size_t kMaxMutatedBytes = 256 * 1024;
constexpr int kMaxStackedMutations = 4;

std::uint64_t splitmix64(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

std::optional<std::uint64_t> env_number(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr || *value == '\0') return std::nullopt;
  char* end = nullptr;
  const unsigned long long number = std::strtoull(value, &end, 10);
  if (end == value || *end != '\0') {
    ADD_FAILURE() << name << "=" << value << " is not a non-negative integer";
    return std::nullopt;
  }
  return static_cast<std::uint64_t>(number);
}

std::string json_string(const std::string& text) {
  std::string out = "\"";
  for (const unsigned char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c >= 0x7f) {
      char buffer[8];
      std::snprintf(buffer, sizeof buffer, "\\u%04x", c);
      out += buffer;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

std::string current_test_name() {
  const auto* info = testing::UnitTest::GetInstance()->current_test_info();
  if (info == nullptr) return "*";
  return std::string(info->test_suite_name()) + "." + info->name();
}

}  // namespace

Mutator::Mutator(std::uint64_t seed) : state_(seed) {}

std::uint64_t Mutator::next() { return splitmix64(state_); }

std::uint64_t Mutator::below(std::uint64_t bound) { return bound == 0 ? 0 : next() % bound; }

const std::vector<std::string>& Mutator::boundary_values() {
  static const std::vector<std::string> values = {
      "-1", "0", "1", "-0", "1e309", "-1e309", "1e-400", "nan", "NaN", "-nan", "inf", "-inf", "Infinity",
      "null", "true", "false", "\"\"", "[]", "{}", "~", "''",
      "18446744073709551616", "18446744073709551615", "99999999999999999999999", "-9223372036854775809",
      "9223372036854775807", "-9223372036854775808", "4294967296", "4294967295", "2147483648",
      "-2147483649", "0x7fffffff", "1.7976931348623157e308", "4.9e-324", "0.5", "-0.0", "1e5",
      std::string("\xff"), std::string("\xc3"), std::string("\xed\xa0\x80"), std::string("\xf4\x90\x80\x80"),
      std::string("\xc0\x80"), std::string(1, '\0'), "\\u0000", "\\ud800", "\\u", "\"", "\\", "\n", "\r\n",
      "\t", ":", ",", "=", "#", "&anchor", "*anchor", "!!binary", "<<", "---", "...", "%YAML 1.2",
  };
  return values;
}

std::string Mutator::mutate(const std::string& input, const std::vector<std::string>& dictionary) {
  std::string bytes = input;
  const int stacked = 1 + static_cast<int>(below(kMaxStackedMutations));
  for (int round = 0; round < stacked; ++round) {
    mutate_once(bytes, dictionary);
    if (bytes.size() > kMaxMutatedBytes) bytes.resize(kMaxMutatedBytes);
  }
  return bytes;
}

void Mutator::mutate_once(std::string& bytes, const std::vector<std::string>& dictionary) {
  const std::size_t size = bytes.size();
  const auto position = [&] { return static_cast<std::size_t>(below(size + 1)); };
  // A slice [start, start + length) inside bytes, mostly short: parsers care about tokens.
  const auto slice = [&](std::size_t& start, std::size_t& length) {
    start = static_cast<std::size_t>(below(size + 1));
    const std::size_t room = size - start;
    length = static_cast<std::size_t>(below(std::min<std::size_t>(room, below(4) == 0 ? room : 16) + 1));
  };
  const auto splice = [&](const std::string& value) {
    std::size_t start = 0;
    std::size_t length = 0;
    slice(start, length);
    if (below(2) == 0) length = 0;  // insert rather than replace
    bytes.replace(start, length, value);
  };
  switch (below(13)) {
    case 0:  // flip one bit
      if (size > 0) bytes[below(size)] ^= static_cast<char>(1u << below(8));
      break;
    case 1:  // overwrite one byte
      if (size > 0) bytes[below(size)] = static_cast<char>(next());
      break;
    case 2:  // truncate
      bytes.resize(position());
      break;
    case 3: {  // insert random bytes
      std::string random(1 + below(8), '\0');
      for (char& c : random) c = static_cast<char>(next());
      bytes.insert(position(), random);
      break;
    }
    case 4: {  // delete a slice
      std::size_t start = 0;
      std::size_t length = 0;
      slice(start, length);
      bytes.erase(start, length);
      break;
    }
    case 5: {  // duplicate a slice elsewhere
      std::size_t start = 0;
      std::size_t length = 0;
      slice(start, length);
      const std::string copy = bytes.substr(start, length);
      bytes.insert(position(), copy);
      break;
    }
    case 6:
    case 7:  // a boundary value
      splice(boundary_values()[below(boundary_values().size())]);
      break;
    case 8:
    case 9:  // a token of the format
      if (!dictionary.empty()) {
        splice(dictionary[below(dictionary.size())]);
      } else {
        splice(boundary_values()[below(boundary_values().size())]);
      }
      break;
    case 10: {  // a number replaced by a boundary value: keeps the rest of the input valid
      std::vector<std::size_t> starts;
      for (std::size_t i = 0; i < size; ++i) {
        const bool digit = bytes[i] >= '0' && bytes[i] <= '9';
        const bool previous_digit = i > 0 && bytes[i - 1] >= '0' && bytes[i - 1] <= '9';
        if (digit && !previous_digit) starts.push_back(i);
      }
      if (starts.empty()) {
        splice(boundary_values()[below(boundary_values().size())]);
        break;
      }
      const std::size_t start = starts[below(starts.size())];
      std::size_t end = start;
      while (end < size && ((bytes[end] >= '0' && bytes[end] <= '9') || bytes[end] == '.' || bytes[end] == 'e')) ++end;
      bytes.replace(start, end - start, boundary_values()[below(boundary_values().size())]);
      break;
    }
    case 11: {  // a long run of one byte
      static const char kRunBytes[] = {'a', '0', '9', ' ', '\n', '"', '\\', '-', '\xff', '\0', '{', ':'};
      const std::size_t length = below(2) == 0 ? 1 + below(300) : 1000 + below(100000);
      bytes.insert(position(), std::string(length, kRunBytes[below(sizeof kRunBytes)]));
      break;
    }
    default: {  // deep nesting
      static const char* const kOpeners[] = {"[", "{\"a\":", "- ", "{a: ", "(", "{{", "{%if 1%}"};
      const std::string opener = kOpeners[below(sizeof kOpeners / sizeof kOpeners[0])];
      const std::size_t depth = below(2) == 0 ? 1 + below(64) : 1000 + below(20000);
      std::string nested;
      for (std::size_t level = 0; level < depth && nested.size() < kMaxMutatedBytes; ++level) nested += opener;
      bytes.insert(position(), nested);
      break;
    }
  }
}

std::uint64_t case_seed(std::uint64_t seed, std::uint64_t index) {
  std::uint64_t state = seed ^ (index * 0xd1b54a32d192ed03ULL);
  splitmix64(state);
  return splitmix64(state);
}

std::string escape_excerpt(const std::string& bytes, std::size_t limit) {
  std::string out;
  const std::size_t shown = std::min(bytes.size(), limit);
  for (std::size_t i = 0; i < shown; ++i) {
    const auto c = static_cast<unsigned char>(bytes[i]);
    if (c == '\\' || c == '"') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c < 0x20 || c >= 0x7f) {
      char buffer[8];
      std::snprintf(buffer, sizeof buffer, "\\x%02x", c);
      out += buffer;
    } else {
      out += static_cast<char>(c);
    }
  }
  if (shown < bytes.size()) out += "...";
  return out;
}

FuzzReport run_fuzz(const std::string& name, const std::vector<std::string>& corpus,
                    const std::function<void(const std::string& bytes)>& parse, std::size_t cases,
                    std::uint64_t seed, const std::vector<std::string>& dictionary) {
  FuzzReport report;
  report.name = name;
  if (corpus.empty()) {
    ADD_FAILURE() << "fuzz " << name << ": empty corpus";
    return report;
  }
  if (const auto value = env_number("SELM_FUZZ_SEED")) seed = *value;
  if (const auto value = env_number("SELM_FUZZ_CASES")) cases = static_cast<std::size_t>(*value);
  const std::optional<std::uint64_t> only_case = env_number("SELM_FUZZ_CASE");

  // Cases below corpus.size() are the corpus entries themselves; the rest are mutations.
  const auto input_of = [&](std::uint64_t index) {
    if (index < corpus.size()) return corpus[index];
    Mutator mutator(case_seed(seed, index));
    const std::string& base = corpus[mutator.below(corpus.size())];
    return mutator.mutate(base, dictionary);
  };
  const auto run_case = [&](std::uint64_t index) {
    const std::string input = input_of(index);
    std::string failure;
    ++report.cases;
    try {
      parse(input);
      ++report.ok;
      return;
    } catch (const InputError&) {
      ++report.input_error;
      return;
    } catch (const std::exception& error) {
      failure = std::string("exception: ") + error.what();
    } catch (...) {
      failure = "an exception not derived from std::exception";
    }
    ++report.other;
    ADD_FAILURE() << "fuzz " << name << ": seed " << seed << ", case " << index << " (" << input.size()
                  << " bytes): " << failure << "\n  input: \"" << escape_excerpt(input) << "\""
                  << "\n  replay: SELM_FUZZ_SEED=" << seed << " SELM_FUZZ_CASE=" << index
                  << " selm_fuzz_tests --gtest_filter=" << current_test_name();
  };
  if (only_case) {
    run_case(*only_case);
  } else {
    const std::uint64_t total = corpus.size() + cases;
    for (std::uint64_t index = 0; index < total; ++index) run_case(index);
  }

  std::ostringstream summary;
  summary << "fuzz " << name << ": " << report.cases << " cases, ok " << report.ok << ", exit 2 "
          << report.input_error << ", other " << report.other;
  std::cout << summary.str() << std::endl;
  if (const char* path = std::getenv("SELM_FUZZ_REPORT"); path != nullptr && *path != '\0') {
    std::ofstream out(path, std::ios::app);
    out << "{\"name\": " << json_string(name) << ", \"seed\": " << seed << ", \"cases\": " << report.cases
        << ", \"ok\": " << report.ok << ", \"input_error\": " << report.input_error
        << ", \"other\": " << report.other << ", \"summary\": " << json_string(summary.str()) << "}\n";
    if (!out) ADD_FAILURE() << "cannot append the fuzz report to " << path;
  }
  return report;
}

}  // namespace selm::fuzz
