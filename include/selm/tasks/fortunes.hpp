// The fortunes corpus: fortune-cookie files in strfile format -> clean one-line texts -> a seeded
// train / held-out split -> prompts (a fortune's first words) with preference pairs.
//
// Cleaning of one entry (clean_fortune), in order:
//   1. overstriking: a backspace erases the character before it ("_\bx" -> "x"), as a terminal
//      shows it;
//   2. attribution: the last line (not the first) whose text, leading blanks skipped, starts
//      with "--" followed by a space or a letter ("\t\t-- Mark Twain") is dropped with all the
//      lines after it (attributions may wrap onto a second line). Earlier "--" lines are text
//      ("...he is unbiased\n-- he hates all creative people equally.\n\t\t-- Robert Heinlein");
//   3. whitespace: every run of spaces, tabs and newlines becomes one space; ends are trimmed;
//   4. an entry with any character outside printable ASCII after that is dropped (returns ""),
//      which keeps the tokenizer's vocabulary small.
// The corpus reads the regular files of the folder whose names have no extension (strfile's
// .dat indexes and .u8 copies are skipped) in name order, keeps cleaned entries of min_chars to
// max_chars characters and drops exact duplicates (the first stays), so that no held-out
// fortune also appears in training.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace selm {

namespace fs = std::filesystem;

// The raw entries of a strfile text: the text between lines that hold only "%" (a trailing
// "\r" is tolerated). Entries that are empty or only whitespace are left out.
std::vector<std::string> split_strfile_entries(std::string_view content);

// One entry cleaned as described above; "" when unusable.
std::string clean_fortune(std::string_view raw_entry);

struct Fortune {
  std::string text;    // cleaned, one line
  std::string source;  // "FILE:N": file name and 1-based entry number in it
};

struct FortuneCorpusOptions {
  fs::path directory;
  std::vector<std::string> exclude_files;
  std::int64_t min_chars = 20;
  std::int64_t max_chars = 160;
};

struct FortuneCorpus {
  std::vector<Fortune> fortunes;       // in file-name order, then entry order
  std::vector<std::string> files;      // names of the files read, sorted
  std::string content_sha256;          // hash of the names and bytes of the files read
  std::int64_t raw_entries = 0;        // entries before cleaning and filtering
  std::int64_t dropped_unusable = 0;   // non-ASCII or empty after cleaning
  std::int64_t dropped_length = 0;     // outside [min_chars, max_chars]
  std::int64_t dropped_duplicates = 0;
};

// Reads the corpus. InputError naming the folder when it is missing or yields no fortune.
FortuneCorpus read_fortune_corpus(const FortuneCorpusOptions& options);

struct FortuneSplit {
  std::vector<Fortune> train;
  std::vector<Fortune> eval;  // held out
};

// Seeded split: epoch_permutation(N, seed, 0) (train/shuffle.hpp, the same on every platform)
// orders the fortunes; the first round(N * eval_fraction) of that order (at least 1 when N >= 2)
// are held out. Each side keeps the corpus order.
FortuneSplit split_fortunes(const std::vector<Fortune>& fortunes, double eval_fraction, std::uint64_t seed);

// A fortune cut after its first `words` words (words are separated by single spaces in a
// cleaned fortune). `continuation` starts with the space that followed the prompt, because with
// the plain chat template a response continues the prompt's text.
struct PromptSplit {
  std::string prompt;
  std::string continuation;
};
// nullopt when the text has no word after the first `words` ones.
std::optional<PromptSplit> split_prompt(const std::string& text, std::int64_t words);

struct FortunePreference {
  std::string prompt;
  std::string chosen;    // continuation scored at least as high as `rejected`
  std::string rejected;
  double chosen_score = 0;
  double rejected_score = 0;
  std::string source;    // the fortune whose prompt this is
};

// For each fortune that split_prompt can cut (in order): the prompt, its own continuation and the
// continuation of another such fortune drawn with SplitMix64(seed) (never one with the same
// continuation text), ordered by `score` so that chosen scores higher; on a tie the fortune's
// own continuation is chosen. Fewer than two usable fortunes give no pairs.
std::vector<FortunePreference> make_fortune_preferences(const std::vector<Fortune>& fortunes, std::int64_t prompt_words,
                                                        std::uint64_t seed,
                                                        const std::function<double(const std::string&)>& score);

}  // namespace selm
