// The SentencePiece implementation of Tokenizer, and training new SentencePiece models.
//
// SentencePiece runs inside libselm_sentencepiece, a small shared library loaded at run time (see
// src/text/shim/sentencepiece_shim.h for why). It is looked up in this order:
//   1. the file named by the environment variable SELM_SENTENCEPIECE_SHIM;
//   2. libselm_sentencepiece.so next to the running executable, then in ../lib from it;
//   3. the path where the build wrote it.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "selm/text/tokenizer.hpp"
#include "selm/text/tokenizer_config.hpp"

namespace selm {

namespace fs = std::filesystem;

class SentencePieceTokenizer final : public Tokenizer {
 public:
  // Loads `model_file` (a tokenizer.model) with the settings of `config`. InputError naming the
  // file when it is missing or not a SentencePiece model.
  SentencePieceTokenizer(const fs::path& model_file, TokenizerConfig config);
  ~SentencePieceTokenizer() override;
  SentencePieceTokenizer(const SentencePieceTokenizer&) = delete;
  SentencePieceTokenizer& operator=(const SentencePieceTokenizer&) = delete;

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
  const fs::path& model_path() const override;

  // Ids of the model's byte pieces ("<0x00>".."<0xFF>") and user-defined pieces, for reports.
  std::int64_t byte_piece_count() const;
  std::vector<std::int64_t> user_defined_ids() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

struct SentencePieceTrainingOptions {
  std::string model_type = "bpe";              // bpe (as Llama's tokenizer.model, what transformers expects) or unigram
  double character_coverage = 0.9995;          // rarer characters fall back to byte pieces
  std::vector<std::string> user_defined_symbols;  // strings kept as single pieces, e.g. "<|im_end|>"
  std::string chat_template = "plain";         // written into tokenizer_config.json
  int threads = 1;                             // more threads train faster but not reproducibly
  bool quiet = true;                           // hide SentencePiece's progress log
};

struct SentencePieceTrainingResult {
  fs::path model_path;          // the tokenizer.model written
  fs::path config_path;         // the tokenizer_config.json written beside it
  std::int64_t vocab_size = 0;  // all pieces
  std::int64_t byte_pieces = 0;     // <0x00>..<0xFF>
  std::int64_t special_pieces = 0;  // <unk>, <s>, </s> and user-defined symbols
  double seconds = 0.0;
};

// Trains a SentencePiece model on the lines of `inputs` and writes it atomically to
// `output_model`, with tokenizer_config.json and special_tokens_map.json beside it.
//
// The settings make text round-trip exactly (decode(encode(text)) == text) and match the Llama
// layout: unk=0 "<unk>", bos=1 "<s>", eos=2 "</s>", no pad piece; byte_fallback on (characters
// outside the vocabulary, and the newline, which SentencePiece never sees in training because
// it reads one sentence per line, become <0xNN> byte pieces); identity normalisation; spaces kept
// as they are (remove_extra_whitespaces off, whitespace-only pieces allowed); digits split; a
// dummy "▁" prefix as in Llama. The same inputs and options give the same model.
// A missing input file, a vocab size the corpus cannot fill or bad options are an InputError.
SentencePieceTrainingResult train_sentencepiece(const std::vector<fs::path>& inputs, std::int64_t vocab_size,
                                                const fs::path& output_model,
                                                const SentencePieceTrainingOptions& options = {});

}  // namespace selm
