// Patterns and splitting, as the tokenizer.json components use them: the {"String": ...} or
// {"Regex": ...} patterns of Split and Replace, character-class patterns (digits, whitespace,
// the metaspace) and the five ways a split treats what the pattern matched.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "hf_regex.hpp"
#include "hf_unicode.hpp"

namespace selm::hf {

class JsonNode;

// Text on its way from the pre-tokenizer to the model.
struct Piece {
  std::string text;
  bool at_text_start = false;  // begins where the whole input text begins (Metaspace "first")
};

// One stretch of a text: the consecutive stretches of find_matches cover it entirely.
struct Stretch {
  Range range;
  bool is_match = false;
};

enum class SplitBehavior { removed, isolated, merged_with_previous, merged_with_next, contiguous };

// "Removed", "Isolated", "MergedWithPrevious", "MergedWithNext" or "Contiguous"; any other
// value is an error at `node`.
SplitBehavior parse_split_behavior(const JsonNode& node);

class Pattern {
 public:
  // `node` is {"String": literal} or {"Regex": pattern}.
  explicit Pattern(const JsonNode& node);

  // `text` cut into stretches that the pattern matches and the gaps between them.
  void find_matches(std::string_view text, std::vector<Stretch>& stretches) const;

  // `text` with every match replaced by `content`.
  std::string replace_all(std::string_view text, std::string_view content) const;

 private:
  std::string literal_;
  std::unique_ptr<Regex> regex_;  // null for a non-empty literal
};

// Stretches where every character for which `is_match(c)` holds is a match of its own.
template <class Predicate>
void find_character_matches(std::string_view text, Predicate is_match, std::vector<Stretch>& stretches) {
  std::size_t gap_start = 0, position = 0;
  while (position < text.size()) {
    const std::size_t start = position;
    const char32_t c = decode_utf8(text, position);
    if (!is_match(c)) continue;
    if (gap_start < start) stretches.push_back({{gap_start, start}, false});
    stretches.push_back({{start, position}, true});
    gap_start = position;
  }
  if (gap_start < text.size()) stretches.push_back({{gap_start, text.size()}, false});
}

// Cuts `piece` along `stretches` (of piece.text) as `behavior` says, flipping what counts as a
// match when `invert`; appends the non-empty parts to `out`.
void split_piece(const Piece& piece, std::vector<Stretch>& stretches, SplitBehavior behavior, bool invert,
                 std::vector<Piece>& out);

}  // namespace selm::hf
