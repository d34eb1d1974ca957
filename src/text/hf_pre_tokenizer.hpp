// The "pre_tokenizer" of tokenizer.json: normalized text -> the pieces the model encodes one by
// one (words for GPT-style regexes, bytes mapped to the GPT-2 alphabet for byte-level models).
#pragma once

#include <memory>
#include <vector>

#include "hf_pattern.hpp"

namespace selm::hf {

class JsonNode;

class PreTokenizer {
 public:
  virtual ~PreTokenizer() = default;
  // Replaces `pieces` by their parts. `continuation` text continues earlier text, so nothing
  // marks a start: no prefix space (ByteLevel) and no prefix "▁" (Metaspace).
  virtual void pre_tokenize(std::vector<Piece>& pieces, bool continuation) const = 0;
};

// The chain at `node` (nested Sequences flattened); empty for null. Supported: Split, ByteLevel,
// Digits, Metaspace, Whitespace, WhitespaceSplit, Punctuation, BertPreTokenizer, Sequence; any
// other type is an error naming NODE.type.
std::vector<std::unique_ptr<PreTokenizer>> parse_pre_tokenizers(const JsonNode& node);

}  // namespace selm::hf
