#include "hf_added_tokens.hpp"

#include <algorithm>

#include "hf_unicode.hpp"

namespace selm::hf {
namespace {

// The character that ends text[0, end), or 0 at the start.
char32_t character_before(std::string_view text, std::size_t end) {
  if (end == 0) return 0;
  std::size_t start = end - 1;
  while (start > 0 && (static_cast<unsigned char>(text[start]) & 0xC0) == 0x80) --start;
  return decode_utf8(text, start);
}

// Where the whitespace run that ends at `end` begins.
std::size_t whitespace_start_before(std::string_view text, std::size_t end) {
  while (end > 0) {
    std::size_t start = end - 1;
    while (start > 0 && (static_cast<unsigned char>(text[start]) & 0xC0) == 0x80) --start;
    std::size_t next = start;
    if (!is_white_space(decode_utf8(text, next))) break;
    end = start;
  }
  return end;
}

// Where the whitespace run that starts at `begin` ends.
std::size_t whitespace_end_after(std::string_view text, std::size_t begin) {
  while (begin < text.size()) {
    std::size_t next = begin;
    if (!is_white_space(decode_utf8(text, next))) break;
    begin = next;
  }
  return begin;
}

}  // namespace

std::int32_t TokenTrie::child(std::int32_t node, unsigned char byte) const {
  for (const auto& [edge, target] : nodes_[static_cast<std::size_t>(node)].children)
    if (edge == byte) return target;
  return -1;
}

void TokenTrie::add(std::string_view pattern, std::int32_t value) {
  if (pattern.empty()) return;
  first_byte_[static_cast<unsigned char>(pattern.front())] = true;
  std::int32_t node = 0;
  for (const char c : pattern) {
    const auto byte = static_cast<unsigned char>(c);
    std::int32_t next = child(node, byte);
    if (next < 0) {
      next = static_cast<std::int32_t>(nodes_.size());
      nodes_.push_back(Node{});
      nodes_[static_cast<std::size_t>(node)].children.emplace_back(byte, next);
    }
    node = next;
  }
  nodes_[static_cast<std::size_t>(node)].value = value;
}

std::pair<std::size_t, std::int32_t> TokenTrie::longest_at(std::string_view text, std::size_t position) const {
  std::pair<std::size_t, std::int32_t> best{0, -1};
  if (!first_byte_[static_cast<unsigned char>(text[position])]) return best;
  std::int32_t node = 0;
  for (std::size_t i = position; i < text.size(); ++i) {
    node = child(node, static_cast<unsigned char>(text[i]));
    if (node < 0) break;
    const std::int32_t value = nodes_[static_cast<std::size_t>(node)].value;
    if (value >= 0) best = {i + 1 - position, value};
  }
  return best;
}

AddedVocabulary::AddedVocabulary(std::vector<AddedTokenSpec> tokens) : tokens_(std::move(tokens)) {
  for (std::size_t i = 0; i < tokens_.size(); ++i) {
    const AddedTokenSpec& token = tokens_[i];
    if (token.normalized)
      normalized_trie_.add(token.normalized_content, static_cast<std::int32_t>(i));
    else
      raw_trie_.add(token.content, static_cast<std::int32_t>(i));
  }
}

void AddedVocabulary::split(std::string_view text, bool normalized_text, bool skip_special,
                            std::vector<Segment>& segments) const {
  const TokenTrie& trie = normalized_text ? normalized_trie_ : raw_trie_;
  if (text.empty()) return;
  if (trie.empty()) {
    segments.push_back({{0, text.size()}, -1});
    return;
  }
  std::size_t text_start = 0;  // where the text not yet given to a segment begins
  std::size_t position = 0;    // where the search for the next match resumes
  while (position < text.size()) {
    const auto [length, index] = trie.longest_at(text, position);
    if (length == 0) {
      ++position;
      continue;
    }
    std::size_t start = position, stop = position + length;
    position = stop;  // a match that is then discarded is not searched again for shorter ones
    const AddedTokenSpec& token = tokens_[static_cast<std::size_t>(index)];
    if (skip_special && token.special) continue;
    if (start < text_start) continue;  // inside whitespace an rstrip token already took
    if (token.single_word) {
      std::size_t after = stop;
      const bool word_before = start > 0 && is_word_character(character_before(text, start));
      const bool word_after = stop < text.size() && is_word_character(decode_utf8(text, after));
      if (word_before || word_after) continue;
    }
    if (token.lstrip) start = std::max(whitespace_start_before(text, start), text_start);
    if (token.rstrip) stop = whitespace_end_after(text, stop);
    if (text_start < start) segments.push_back({{text_start, start}, -1});
    segments.push_back({{start, stop}, index});
    text_start = stop;
    position = std::max(position, stop);
  }
  if (text_start < text.size()) segments.push_back({{text_start, text.size()}, -1});
}

}  // namespace selm::hf
