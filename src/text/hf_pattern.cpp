#include "hf_pattern.hpp"

#include <algorithm>

#include "hf_json.hpp"

namespace selm::hf {

SplitBehavior parse_split_behavior(const JsonNode& node) {
  if (!node.value().is_string()) node.fail("must be a string");
  const std::string name = node.value().get<std::string>();
  if (name == "Removed") return SplitBehavior::removed;
  if (name == "Isolated") return SplitBehavior::isolated;
  if (name == "MergedWithPrevious") return SplitBehavior::merged_with_previous;
  if (name == "MergedWithNext") return SplitBehavior::merged_with_next;
  if (name == "Contiguous") return SplitBehavior::contiguous;
  node.fail("unknown split behavior \"" + name +
            "\" (expected Removed, Isolated, MergedWithPrevious, MergedWithNext or Contiguous)");
}

Pattern::Pattern(const JsonNode& node) {
  node.require_object();
  if (node.has("String")) {
    literal_ = node.string_at("String");
    // Hugging Face compiles a literal as an escaped regex; only the empty one behaves unlike a
    // plain search (it matches between every two characters), so only it goes through PCRE2.
    if (literal_.empty()) regex_ = std::make_unique<Regex>("", node.at("String"));
  } else if (node.has("Regex")) {
    regex_ = std::make_unique<Regex>(node.string_at("Regex"), node.at("Regex"));
  } else {
    node.fail("must be {\"String\": ...} or {\"Regex\": ...}");
  }
}

void Pattern::find_matches(std::string_view text, std::vector<Stretch>& stretches) const {
  if (text.empty()) return;
  std::vector<Range> matches;
  if (regex_) {
    regex_->find_all(text, matches);
  } else {
    for (std::size_t found = text.find(literal_); found != std::string_view::npos;
         found = text.find(literal_, found + literal_.size()))
      matches.push_back({found, found + literal_.size()});
  }
  std::size_t previous = 0;
  for (const Range& match : matches) {
    if (previous != match.begin) stretches.push_back({{previous, match.begin}, false});
    stretches.push_back({match, true});
    previous = match.end;
  }
  if (previous != text.size()) stretches.push_back({{previous, text.size()}, false});
}

std::string Pattern::replace_all(std::string_view text, std::string_view content) const {
  if (!regex_) {
    // The common case (Gemma's and Llama's " " -> "▁"): skip the copy when nothing matches.
    std::size_t found = text.find(literal_);
    if (found == std::string_view::npos) return std::string(text);
    std::string out;
    out.reserve(text.size() + text.size() / 4);
    std::size_t start = 0;
    for (; found != std::string_view::npos; found = text.find(literal_, start)) {
      out.append(text.substr(start, found - start));
      out.append(content);
      start = found + literal_.size();
    }
    out.append(text.substr(start));
    return out;
  }
  std::vector<Stretch> stretches;
  find_matches(text, stretches);
  std::string out;
  out.reserve(text.size());
  for (const Stretch& stretch : stretches) {
    if (stretch.is_match)
      out.append(content);
    else
      out.append(text.substr(stretch.range.begin, stretch.range.end - stretch.range.begin));
  }
  return out;
}

void split_piece(const Piece& piece, std::vector<Stretch>& stretches, SplitBehavior behavior, bool invert,
                 std::vector<Piece>& out) {
  if (invert)
    for (Stretch& stretch : stretches) stretch.is_match = !stretch.is_match;
  // Each kept range; `removed` marks the ones the Removed behavior drops.
  struct Kept {
    Range range;
    bool removed;
  };
  std::vector<Kept> kept;
  kept.reserve(stretches.size());
  switch (behavior) {
    case SplitBehavior::removed:
      for (const Stretch& stretch : stretches) kept.push_back({stretch.range, stretch.is_match});
      break;
    case SplitBehavior::isolated:
      for (const Stretch& stretch : stretches) kept.push_back({stretch.range, false});
      break;
    case SplitBehavior::contiguous: {
      // Neighbouring matches fuse into one part.
      bool previous_match = false;
      for (const Stretch& stretch : stretches) {
        if (stretch.is_match == previous_match && !kept.empty())
          kept.back().range.end = stretch.range.end;
        else
          kept.push_back({stretch.range, false});
        previous_match = stretch.is_match;
      }
      break;
    }
    case SplitBehavior::merged_with_previous: {
      // A match joins the part before it, unless that part is itself a match.
      bool previous_match = false;
      for (const Stretch& stretch : stretches) {
        if (stretch.is_match && !previous_match && !kept.empty())
          kept.back().range.end = stretch.range.end;
        else
          kept.push_back({stretch.range, false});
        previous_match = stretch.is_match;
      }
      break;
    }
    case SplitBehavior::merged_with_next: {
      // The mirror image: walk backwards, a match joins the part after it.
      bool previous_match = false;
      for (auto stretch = stretches.rbegin(); stretch != stretches.rend(); ++stretch) {
        if (stretch->is_match && !previous_match && !kept.empty())
          kept.back().range.begin = stretch->range.begin;
        else
          kept.push_back({stretch->range, false});
        previous_match = stretch->is_match;
      }
      std::reverse(kept.begin(), kept.end());
      break;
    }
  }
  for (const Kept& part : kept) {
    if (part.removed || part.range.end == part.range.begin) continue;
    out.push_back({piece.text.substr(part.range.begin, part.range.end - part.range.begin),
                   piece.at_text_start && part.range.begin == 0});
  }
}

}  // namespace selm::hf
