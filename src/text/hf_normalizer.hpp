// The "normalizer" of tokenizer.json: text -> text before pre-tokenization (Unicode forms,
// lowercasing, replacements, the "▁" that SentencePiece-style tokenizers prepend).
#pragma once

#include <memory>
#include <string>
#include <vector>

namespace selm::hf {

class JsonNode;

class Normalizer {
 public:
  virtual ~Normalizer() = default;
  // `continuation` text continues earlier text, so nothing marks a start: Prepend is skipped.
  virtual void normalize(std::string& text, bool continuation) const = 0;
};

// The chain of the normalizer at `node` (nested Sequences flattened); empty for null or an empty
// Sequence. Supported: NFC, NFD, NFKC, NFKD, Lowercase, Strip, StripAccents, Replace, Prepend,
// Sequence; any other type is an error naming NODE.type.
std::vector<std::unique_ptr<Normalizer>> parse_normalizers(const JsonNode& node);

}  // namespace selm::hf
