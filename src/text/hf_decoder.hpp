// The "decoder" of tokenizer.json: token strings -> text (GPT-2 bytes back to UTF-8, "▁" back
// to spaces, <0xAB> pieces back to bytes, the dummy-prefix space stripped).
#pragma once

#include <memory>
#include <string>
#include <vector>

namespace selm::hf {

class JsonNode;

class Decoder {
 public:
  virtual ~Decoder() = default;
  // Rewrites the token strings (some decoders fuse them into one). With `continuation` the text
  // continues earlier text: the leading space a dummy prefix stands for is kept.
  virtual void decode(std::vector<std::string>& tokens, bool continuation) const = 0;
};

// The chain at `node` (nested Sequences flattened); empty for null. Supported: ByteLevel,
// Metaspace, ByteFallback, Fuse, Strip, Replace, BPEDecoder, Sequence; any other type (WordPiece,
// CTC) is an error naming NODE.type.
std::vector<std::unique_ptr<Decoder>> parse_decoders(const JsonNode& node);

}  // namespace selm::hf
