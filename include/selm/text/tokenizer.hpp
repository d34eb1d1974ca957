// Tokenizer interface: text <-> token ids, with the special-token handling of transformers'
// LlamaTokenizer so that selm and transformers give the same ids for the same files.
//
// Conventions:
//  - ids are std::int64_t (what tensors hold);
//  - bos_id(), eos_id() and unk_id() return -1 when the tokenizer has no such token; pad_id() is
//    std::nullopt when there is none (most Llama tokenizers have no pad token: batching code
//    pads with pad_id().value_or(eos_id()) and masks the padding);
//  - "special" ids are the model's control and unknown pieces and the added tokens marked
//    special in tokenizer_config.json; decode(..., skip_special_tokens=true) drops them.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "selm/text/tokenizer_config.hpp"

namespace selm {

namespace fs = std::filesystem;

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;

  // Plain text through SentencePiece with its default dummy prefix ("hi" -> "▁hi"); no BOS/EOS;
  // strings such as "</s>" are ordinary characters here.
  virtual std::vector<std::int64_t> encode(std::string_view text) const = 0;

  // Text that may contain special-token strings ("<s>", "</s>", "<unk>", added tokens such as
  // "<|im_end|>", user-defined pieces): each becomes its id and only the text between them goes
  // through SentencePiece. With config().legacy (the default) every text chunk gets SentencePiece's
  // dummy prefix; with legacy=false only the start of the whole text gets "▁" and a chunk after a
  // special token keeps its exact leading characters ("</s>hi" -> "</s>", "hi"; "</s> hi" ->
  // "</s>", "▁hi"), as transformers' LlamaTokenizer(legacy=False). No BOS/EOS is added.
  virtual std::vector<std::int64_t> encode_with_special_tokens(std::string_view text) const = 0;

  // Text that continues earlier text, e.g. a response after its prompt: no dummy prefix, a
  // leading space becomes "▁" ("Hello" -> "Hello", " Hello" -> "▁Hello"). Special-token strings
  // are ordinary characters. This is what a model generates after a prompt.
  virtual std::vector<std::int64_t> encode_continuation(std::string_view text) const = 0;

  // Ids -> text as transformers' decode: the leading space that the dummy prefix stands for is
  // removed; special ids are dropped, or written as their strings when skip_special_tokens is
  // false. Throws std::out_of_range for an id outside [0, vocab_size()).
  virtual std::string decode(const std::vector<std::int64_t>& ids, bool skip_special_tokens = true) const = 0;

  // Inverse of encode_continuation: a leading "▁" is kept as a space, so that
  // prompt_text + decode_continuation(response_ids) is the whole text.
  virtual std::string decode_continuation(const std::vector<std::int64_t>& ids,
                                          bool skip_special_tokens = true) const = 0;

  // Number of ids: SentencePiece pieces plus added tokens beyond them.
  virtual std::int64_t vocab_size() const = 0;
  virtual std::int64_t bos_id() const = 0;  // -1 when none
  virtual std::int64_t eos_id() const = 0;  // -1 when none
  virtual std::int64_t unk_id() const = 0;  // -1 when none
  virtual std::optional<std::int64_t> pad_id() const = 0;

  // The id of a piece or added token written exactly ("</s>", "▁the", "<0x0A>"), if any.
  virtual std::optional<std::int64_t> token_to_id(const std::string& piece) const = 0;
  // The piece string of an id. Throws std::out_of_range for an id outside [0, vocab_size()).
  virtual std::string id_to_piece(std::int64_t id) const = 0;
  virtual bool is_special(std::int64_t id) const = 0;

  // tokenizer_config.json as read (defaults when the file was absent).
  virtual const TokenizerConfig& config() const = 0;
  // The tokenizer.model file this tokenizer was loaded from.
  virtual const fs::path& model_path() const = 0;
};

// Loads a tokenizer. `path` is a tokenizer.json (Hugging Face tokenizers), a tokenizer.model
// (SentencePiece), or a directory holding either; a directory with both loads tokenizer.json, as
// transformers' fast tokenizer does. tokenizer_config.json beside it is read when present, and
// chat_template.jinja beside it replaces the config's chat_template. A missing or corrupt file is
// an InputError naming it; a missing SentencePiece runtime library is a std::runtime_error.
std::unique_ptr<Tokenizer> load_tokenizer(const fs::path& path);

// True for a tokenizer loaded from a tokenizer.json file.
bool is_hf_json_tokenizer(const Tokenizer& tokenizer);

}  // namespace selm
