// Small SentencePiece tokenizers trained once per test process, shared by the text_* suites.
#pragma once

#include <filesystem>
#include <map>
#include <string>

#include "selm/text/sentencepiece_tokenizer.hpp"

#include "support/test_support.hpp"

namespace selm::test {

// Training text: the synthetic corpus plus lines with digits and punctuation.
inline std::string tokenizer_training_text() {
  std::string text = synthetic_corpus(1500, 7);
  for (int i = 0; i < 40; ++i) {
    text += "On day " + std::to_string(i * 7 % 31 + 1) + ", the baker sold " + std::to_string(i * 13 % 97) +
            " loaves; was it enough? Yes: \"more than ever\" (she said)!\n";
  }
  return text;
}

// A directory holding tokenizer.model (+ tokenizer_config.json) trained with `chat_template`
// ("plain" or "chatml", which adds <|im_start|> and <|im_end|>), vocabulary of 400 pieces.
inline const std::filesystem::path& trained_tokenizer_dir(const std::string& chat_template = "plain") {
  static TempDir root;
  static std::map<std::string, std::filesystem::path> trained;
  auto found = trained.find(chat_template);
  if (found != trained.end()) return found->second;
  const std::filesystem::path corpus = root / "corpus.txt";
  if (!std::filesystem::exists(corpus)) write_text(corpus, tokenizer_training_text());
  const std::filesystem::path dir = root / chat_template;
  SentencePieceTrainingOptions options;
  options.chat_template = chat_template;
  if (chat_template == "chatml") options.user_defined_symbols = {"<|im_start|>", "<|im_end|>"};
  train_sentencepiece({corpus}, 400, dir / "tokenizer.model", options);
  return trained.emplace(chat_template, dir).first->second;
}

}  // namespace selm::test
