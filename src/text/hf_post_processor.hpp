// The "post_processor" of tokenizer.json for a single sequence: the ids it puts around the
// encoded text when special tokens are added (Llama's and Gemma's BOS, BERT's [CLS] ... [SEP]).
#pragma once

#include <cstdint>
#include <vector>

namespace selm::hf {

class JsonNode;

struct SequenceWrapping {
  std::vector<std::int64_t> prefix;
  std::vector<std::int64_t> suffix;
};

// The wrapping of the post-processor at `node`; nothing for null and ByteLevel. Supported:
// TemplateProcessing, ByteLevel, RobertaProcessing, BertProcessing, Sequence; any other type is
// an error naming NODE.type.
SequenceWrapping parse_post_processor(const JsonNode& node);

}  // namespace selm::hf
