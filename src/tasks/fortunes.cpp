#include "selm/tasks/fortunes.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <unordered_set>

#include "selm/train/shuffle.hpp"
#include "selm/util/error.hpp"
#include "selm/util/files.hpp"
#include "selm/util/sha256.hpp"

namespace selm {

namespace {

bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

bool only_blanks(std::string_view text) { return std::all_of(text.begin(), text.end(), is_blank); }

std::string_view strip_carriage_return(std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return line;
}

std::vector<std::string_view> split_lines(std::string_view text) {
  std::vector<std::string_view> lines;
  std::size_t start = 0;
  while (start <= text.size()) {
    const std::size_t end = text.find('\n', start);
    if (end == std::string_view::npos) {
      if (start < text.size()) lines.push_back(text.substr(start));
      break;
    }
    lines.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}

// "-- Author" or "--Author", after leading blanks.
bool is_attribution_line(std::string_view line) {
  std::size_t first = 0;
  while (first < line.size() && is_blank(line[first])) ++first;
  const std::string_view text = line.substr(first);
  if (text.size() < 3 || text.compare(0, 2, "--") != 0) return false;
  const unsigned char next = static_cast<unsigned char>(text[2]);
  return next == ' ' || next == '\t' || std::isalpha(next);
}

std::string remove_overstriking(std::string_view text) {
  std::string shown;
  shown.reserve(text.size());
  for (const char c : text) {
    if (c == '\b') {
      if (!shown.empty()) shown.pop_back();
    } else {
      shown.push_back(c);
    }
  }
  return shown;
}

// The file names of the corpus: regular files without an extension, not excluded, sorted.
std::vector<std::string> corpus_file_names(const FortuneCorpusOptions& options) {
  std::error_code error;
  if (!fs::is_directory(options.directory, error)) {
    throw InputError(options.directory.string() +
                     ": fortunes folder not found (install Debian's `fortunes` package, or set task.fortunes_dir)");
  }
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(options.directory)) {
    if (!entry.is_regular_file()) continue;  // sub-folders such as off/ are not read
    const std::string name = entry.path().filename().string();
    if (name.empty() || name.find('.') != std::string::npos) continue;
    if (std::find(options.exclude_files.begin(), options.exclude_files.end(), name) != options.exclude_files.end())
      continue;
    names.push_back(name);
  }
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace

std::vector<std::string> split_strfile_entries(std::string_view content) {
  std::vector<std::string> entries;
  std::string current;
  const auto flush = [&] {
    if (!only_blanks(current)) entries.push_back(current);
    current.clear();
  };
  for (const std::string_view raw_line : split_lines(content)) {
    const std::string_view line = strip_carriage_return(raw_line);
    if (line == "%") {
      flush();
      continue;
    }
    current.append(line);
    current.push_back('\n');
  }
  flush();
  return entries;
}

std::string clean_fortune(std::string_view raw_entry) {
  const std::string shown = remove_overstriking(raw_entry);
  const std::vector<std::string_view> lines = split_lines(shown);
  // The attribution ends the entry, so it is the last "--" line; earlier ones are text.
  std::size_t end = lines.size();
  for (std::size_t index = lines.size(); index-- > 1;) {
    if (is_attribution_line(lines[index])) {
      end = index;
      break;
    }
  }
  std::string cleaned;
  bool pending_space = false;
  for (std::size_t index = 0; index < end; ++index) {
    for (const char c : lines[index]) {
      if (is_blank(c)) {
        pending_space = !cleaned.empty();
        continue;
      }
      const unsigned char byte = static_cast<unsigned char>(c);
      if (byte < 0x20 || byte >= 0x7f) return "";  // control or non-ASCII character
      if (pending_space) cleaned.push_back(' ');
      pending_space = false;
      cleaned.push_back(c);
    }
    pending_space = !cleaned.empty();  // the line break
  }
  return cleaned;
}

FortuneCorpus read_fortune_corpus(const FortuneCorpusOptions& options) {
  FortuneCorpus corpus;
  corpus.files = corpus_file_names(options);
  std::string identity;
  std::unordered_set<std::string> seen;
  for (const std::string& name : corpus.files) {
    const std::string content = read_file(options.directory / name);
    identity += name + "\n" + std::to_string(content.size()) + "\n" + sha256_hex(content) + "\n";
    const std::vector<std::string> entries = split_strfile_entries(content);
    corpus.raw_entries += static_cast<std::int64_t>(entries.size());
    for (std::size_t index = 0; index < entries.size(); ++index) {
      std::string text = clean_fortune(entries[index]);
      if (text.empty()) {
        ++corpus.dropped_unusable;
        continue;
      }
      const auto length = static_cast<std::int64_t>(text.size());
      if (length < options.min_chars || length > options.max_chars) {
        ++corpus.dropped_length;
        continue;
      }
      if (!seen.insert(text).second) {
        ++corpus.dropped_duplicates;
        continue;
      }
      corpus.fortunes.push_back({std::move(text), name + ":" + std::to_string(index + 1)});
    }
  }
  corpus.content_sha256 = sha256_hex(identity);
  if (corpus.fortunes.empty()) {
    throw InputError(options.directory.string() + ": no fortune of " + std::to_string(options.min_chars) + " to " +
                     std::to_string(options.max_chars) + " characters in " + std::to_string(corpus.files.size()) +
                     " file(s)");
  }
  return corpus;
}

FortuneSplit split_fortunes(const std::vector<Fortune>& fortunes, double eval_fraction, std::uint64_t seed) {
  const auto count = static_cast<std::int64_t>(fortunes.size());
  std::int64_t held_out = static_cast<std::int64_t>(std::llround(static_cast<double>(count) * eval_fraction));
  if (count >= 2) held_out = std::clamp<std::int64_t>(held_out, 1, count - 1);
  else held_out = 0;
  const std::vector<std::int64_t> order = epoch_permutation(count, seed, 0);
  std::vector<bool> is_held_out(fortunes.size(), false);
  for (std::int64_t i = 0; i < held_out; ++i) is_held_out[static_cast<std::size_t>(order[static_cast<std::size_t>(i)])] = true;
  FortuneSplit split;
  for (std::size_t i = 0; i < fortunes.size(); ++i) (is_held_out[i] ? split.eval : split.train).push_back(fortunes[i]);
  return split;
}

std::optional<PromptSplit> split_prompt(const std::string& text, std::int64_t words) {
  if (words < 1) return std::nullopt;
  std::size_t position = 0;
  for (std::int64_t word = 0; word < words; ++word) {
    const std::size_t space = text.find(' ', position);
    if (space == std::string::npos) return std::nullopt;
    position = space + 1;
  }
  // position is just after the space that ends the prompt's last word.
  PromptSplit split{text.substr(0, position - 1), text.substr(position - 1)};
  if (split.prompt.empty() || only_blanks(split.continuation)) return std::nullopt;
  return split;
}

std::vector<FortunePreference> make_fortune_preferences(const std::vector<Fortune>& fortunes, std::int64_t prompt_words,
                                                        std::uint64_t seed,
                                                        const std::function<double(const std::string&)>& score) {
  struct Usable {
    PromptSplit split;
    const Fortune* fortune;
  };
  std::vector<Usable> usable;
  for (const Fortune& fortune : fortunes)
    if (auto split = split_prompt(fortune.text, prompt_words)) usable.push_back({std::move(*split), &fortune});
  std::vector<FortunePreference> preferences;
  if (usable.size() < 2) return preferences;

  std::vector<double> scores;
  scores.reserve(usable.size());
  for (const Usable& item : usable) scores.push_back(score(item.split.continuation));

  SplitMix64 random(splitmix64_mix(seed));
  const std::uint64_t count = usable.size();
  for (std::uint64_t i = 0; i < count; ++i) {
    // Another fortune: a uniform draw among the others, then the next one (cyclically) whose
    // continuation differs from this one's.
    std::uint64_t other = random.below(count - 1);
    if (other >= i) ++other;
    std::uint64_t tries = 0;
    while ((other == i || usable[other].split.continuation == usable[i].split.continuation) && tries < count) {
      other = (other + 1) % count;
      ++tries;
    }
    if (tries == count) continue;  // every other continuation is the same text
    FortunePreference preference;
    preference.prompt = usable[i].split.prompt;
    preference.source = usable[i].fortune->source;
    const bool own_wins = scores[i] >= scores[other];
    const std::uint64_t chosen = own_wins ? i : other;
    const std::uint64_t rejected = own_wins ? other : i;
    preference.chosen = usable[chosen].split.continuation;
    preference.rejected = usable[rejected].split.continuation;
    preference.chosen_score = scores[chosen];
    preference.rejected_score = scores[rejected];
    preferences.push_back(std::move(preference));
  }
  return preferences;
}

}  // namespace selm
