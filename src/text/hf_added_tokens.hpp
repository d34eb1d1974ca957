// The added tokens of tokenizer.json ("added_tokens": control tokens such as <|im_end|> and
// user-added strings), found in the text before any other processing, as Hugging Face's
// AddedVocabulary does: leftmost match first, the longest one where several start at the same
// place; lstrip/rstrip absorb the whitespace beside a token; a single_word token only matches
// when no word character touches it.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "hf_regex.hpp"

namespace selm::hf {

struct AddedTokenSpec {
  std::int32_t id = 0;
  std::string content;
  bool single_word = false;
  bool lstrip = false;
  bool rstrip = false;
  bool normalized = false;  // matched in the normalized text (else in the raw text)
  bool special = false;     // dropped by decode(skip_special_tokens); plain text in encode()
  std::string normalized_content;  // content through the normalizer, what normalized tokens match
};

// A byte trie over the token strings (Gemma 3 has 6415 added tokens).
class TokenTrie {
 public:
  void add(std::string_view pattern, std::int32_t value);
  bool empty() const { return nodes_.size() == 1; }
  // The longest pattern starting at `position`: {length, value}, or {0, -1}.
  std::pair<std::size_t, std::int32_t> longest_at(std::string_view text, std::size_t position) const;

 private:
  struct Node {
    std::vector<std::pair<unsigned char, std::int32_t>> children;
    std::int32_t value = -1;
  };
  std::int32_t child(std::int32_t node, unsigned char byte) const;
  std::vector<Node> nodes_{Node{}};
  std::array<bool, 256> first_byte_{};  // bytes some pattern starts with: a cheap pre-filter
};

// A stretch of text, or one added token (an index into AddedVocabulary::tokens()).
struct Segment {
  Range range;
  std::int32_t token = -1;
};

class AddedVocabulary {
 public:
  explicit AddedVocabulary(std::vector<AddedTokenSpec> tokens);

  const std::vector<AddedTokenSpec>& tokens() const { return tokens_; }

  // Cuts `text` into stretches and tokens: the raw-text tokens (normalized false) when
  // `normalized_text` is false, else the normalized ones. With `skip_special`, special tokens
  // are not matched (Hugging Face's split_special_tokens).
  void split(std::string_view text, bool normalized_text, bool skip_special, std::vector<Segment>& segments) const;

 private:
  std::vector<AddedTokenSpec> tokens_;
  TokenTrie raw_trie_;
  TokenTrie normalized_trie_;
};

}  // namespace selm::hf
