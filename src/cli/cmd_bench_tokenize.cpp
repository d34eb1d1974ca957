// `selm bench tokenize`: encoding throughput of a tokenizer on one thread.
#include <algorithm>
#include <chrono>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "selm/text/tokenizer.hpp"
#include "selm/util/error.hpp"
#include "selm/util/files.hpp"
#include "selm/util/system.hpp"

namespace selm::cli {
namespace {

struct BenchTokenizeArgs {
  std::string tokenizer;
  std::string input;
  std::int64_t repeats = 5;
};

// The text's lines, each with its line break: what encoding a JSONL dataset record by record
// sees. The node reference (scripts/dev/tokenizer_speed.mjs) splits the same way.
std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    end = end == std::string::npos ? text.size() : end + 1;
    lines.emplace_back(text.substr(start, end - start));
    start = end;
  }
  return lines;
}

// One pass over every line; returns the tokens produced.
std::int64_t encode_all(const Tokenizer& tokenizer, const std::vector<std::string>& lines) {
  std::int64_t tokens = 0;
  for (const std::string& line : lines) tokens += static_cast<std::int64_t>(tokenizer.encode_with_special_tokens(line).size());
  return tokens;
}

void run_bench_tokenize(const BenchTokenizeArgs& args) {
  if (args.repeats < 1) throw InputError("--repeats: must be at least 1, got " + std::to_string(args.repeats));
  using Clock = std::chrono::steady_clock;
  auto seconds_since = [](Clock::time_point start) {
    return std::chrono::duration<double>(Clock::now() - start).count();
  };
  const std::string text = read_file(args.input);
  if (text.empty()) throw_input_error(args.input, 0, "is empty");
  const std::vector<std::string> lines = lines_of(text);

  const auto load_start = Clock::now();
  const std::unique_ptr<Tokenizer> tokenizer = load_tokenizer(args.tokenizer);
  const double load_seconds = seconds_since(load_start);

  // The first pass fills the tokenizer's cache of repeated words; the later ones show the
  // steady state of a long dataset. Both are reported.
  const auto first_start = Clock::now();
  const std::int64_t tokens = encode_all(*tokenizer, lines);
  const double first_seconds = seconds_since(first_start);
  double best_seconds = first_seconds;
  for (std::int64_t repeat = 0; repeat < args.repeats; ++repeat) {
    const auto start = Clock::now();
    encode_all(*tokenizer, lines);
    best_seconds = std::min(best_seconds, seconds_since(start));
  }
  const double megabytes = static_cast<double>(text.size()) / 1.0e6;
  const nlohmann::json result = {
      {"benchmark", "tokenize"},
      {"tokenizer", tokenizer->model_path().string()},
      {"input", args.input},
      {"bytes", text.size()},
      {"lines", lines.size()},
      {"tokens", tokens},
      {"threads", 1},
      {"load_seconds", load_seconds},
      {"first_pass_seconds", first_seconds},
      {"first_pass_mb_per_second", megabytes / first_seconds},
      {"best_seconds", best_seconds},
      {"mb_per_second", megabytes / best_seconds},
      {"tokens_per_second", static_cast<double>(tokens) / best_seconds},
      {"peak_rss_mb", static_cast<double>(peak_rss_bytes()) / (1024.0 * 1024.0)},
  };
  std::cout << result.dump(2) << "\n";
}

}  // namespace

void register_bench_tokenize_command(CLI::App& bench) {
  auto* tokenize = bench.add_subcommand(
      "tokenize", "Encode a text file line by line on one thread (special tokens matched): MB/s, tokens/s");
  auto args = std::make_shared<BenchTokenizeArgs>();
  tokenize->add_option("--tokenizer", args->tokenizer, "tokenizer.json, tokenizer.model, or a directory holding one")
      ->required();
  tokenize->add_option("--input", args->input, "UTF-8 text file; each line is encoded on its own")->required();
  tokenize->add_option("--repeats", args->repeats, "Timed passes after the first; the fastest is reported")
      ->capture_default_str();
  tokenize->footer("The first pass (first_pass_*) fills the cache of repeated words; mb_per_second is the best\n"
                   "later pass. scripts/dev/tokenizer_speed.mjs times the reference tokenizer the same way.");
  tokenize->callback([args] { run_bench_tokenize(*args); });
}

}  // namespace selm::cli
