// The Hugging Face tokenizer.json implementation of Tokenizer: the same ids as the `tokenizers`
// library for BPE tokenizers, byte-level (GPT-2, Llama 3, Qwen, DeepSeek) and SentencePiece-style
// (Llama 2, Gemma: byte fallback, "▁" for spaces).
//
// The pipeline is Hugging Face's: added tokens are cut out of the text first, then each stretch
// between them goes through the normalizer, the pre-tokenizer and the BPE model; the
// post-processor only runs in encode_with_post_processor. How the interface maps onto it:
//  - encode_with_special_tokens(text) = tokenizers' encode(text, add_special_tokens=False);
//  - encode(text) = the same with split_special_tokens: special added tokens ("<|im_end|>",
//    "<bos>") are ordinary text, non-special ones (Qwen's "<think>", Gemma's "\n\n" runs) are still
//    matched, as SentencePiece always matches its user-defined pieces;
//  - encode_continuation(text) = encode(text) with nothing inserted to mark a start: no Prepend
//    normalizer, Metaspace prepend_scheme "never", ByteLevel add_prefix_space false;
//  - decode(ids) = tokenizers' decode, plus transformers' clean_up_tokenization_spaces when
//    tokenizer_config.json sets it; decode_continuation keeps the leading space that a Strip or
//    Metaspace decoder would remove.
// Text that is not valid UTF-8 is read with each ill-formed sequence as U+FFFD.
//
// Supported components (anything else is an InputError naming the file and the key):
//   model: BPE (merges as "a b" strings or ["a", "b"] pairs; dropout is read and not applied);
//   normalizer: NFC, NFD, NFKC, NFKD, Lowercase, Strip, StripAccents, Replace, Prepend, Sequence;
//   pre_tokenizer: Split, ByteLevel, Digits, Metaspace, Whitespace, WhitespaceSplit, Punctuation,
//     BertPreTokenizer, Sequence;
//   decoder: ByteLevel, Metaspace, ByteFallback, Fuse, Strip, Replace, BPEDecoder, Sequence;
//   post_processor: TemplateProcessing, ByteLevel, RobertaProcessing, BertProcessing, Sequence.
// "truncation" and "padding" are ignored: selm cuts and pads sequences itself.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "selm/text/tokenizer.hpp"
#include "selm/text/tokenizer_config.hpp"

namespace selm {

namespace fs = std::filesystem;

class HfTokenizer final : public Tokenizer {
 public:
  // Reads `tokenizer_json`; `config` is its tokenizer_config.json as read_tokenizer_config gives
  // it (default-constructed when there is none): it names the bos/eos/unk/pad tokens, may add
  // added tokens (added_tokens_decoder entries missing from tokenizer.json) and may turn on
  // clean_up_tokenization_spaces. InputError naming the file and the JSON key for a missing or
  // malformed file and for unsupported components.
  static std::unique_ptr<HfTokenizer> load(const fs::path& tokenizer_json, TokenizerConfig config = {});

  ~HfTokenizer() override;
  HfTokenizer(const HfTokenizer&) = delete;
  HfTokenizer& operator=(const HfTokenizer&) = delete;

  std::vector<std::int64_t> encode(std::string_view text) const override;
  std::vector<std::int64_t> encode_with_special_tokens(std::string_view text) const override;
  std::vector<std::int64_t> encode_continuation(std::string_view text) const override;
  std::string decode(const std::vector<std::int64_t>& ids, bool skip_special_tokens = true) const override;
  std::string decode_continuation(const std::vector<std::int64_t>& ids,
                                  bool skip_special_tokens = true) const override;
  std::int64_t vocab_size() const override;
  std::int64_t bos_id() const override;
  std::int64_t eos_id() const override;
  std::int64_t unk_id() const override;
  std::optional<std::int64_t> pad_id() const override;
  std::optional<std::int64_t> token_to_id(const std::string& piece) const override;
  std::string id_to_piece(std::int64_t id) const override;
  bool is_special(std::int64_t id) const override;
  const TokenizerConfig& config() const override;
  const fs::path& model_path() const override;  // the tokenizer.json

  // tokenizers' encode(text, add_special_tokens=True): encode_with_special_tokens wrapped by the
  // post-processor (e.g. BOS first for Llama 2 and Gemma; nothing for Qwen and DeepSeek V3, whose
  // post-processor is ByteLevel).
  std::vector<std::int64_t> encode_with_post_processor(std::string_view text) const;
  // The ids the post-processor puts before and after a single sequence.
  const std::vector<std::int64_t>& post_processor_prefix_ids() const;
  const std::vector<std::int64_t>& post_processor_suffix_ids() const;

 private:
  struct Impl;
  explicit HfTokenizer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace selm
