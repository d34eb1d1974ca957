// `selm tokenizer train`: trains a SentencePiece tokenizer for a new model.
#include <algorithm>
#include <iomanip>
#include <iostream>
#include <memory>
#include <sstream>

#include "commands.hpp"
#include "selm/text/sentencepiece_tokenizer.hpp"

namespace selm::cli {
namespace {

struct TrainArgs {
  std::vector<std::string> inputs;
  std::int64_t vocab_size = 0;
  std::string out;
  SentencePieceTrainingOptions options;
};

// A path ending in ".model" is the model file itself; anything else is a directory that
// receives tokenizer.model.
fs::path model_file_for(const std::string& out) {
  const fs::path path(out);
  return path.extension() == ".model" ? path : path / "tokenizer.model";
}

void run_train(const TrainArgs& args) {
  SentencePieceTrainingOptions options = args.options;
  if (options.chat_template == "chatml")
    for (const std::string marker : {"<|im_start|>", "<|im_end|>"})
      if (std::find(options.user_defined_symbols.begin(), options.user_defined_symbols.end(), marker) ==
          options.user_defined_symbols.end())
        options.user_defined_symbols.push_back(marker);
  std::vector<fs::path> inputs(args.inputs.begin(), args.inputs.end());
  const auto result = train_sentencepiece(inputs, args.vocab_size, model_file_for(args.out), options);
  const std::int64_t learned = result.vocab_size - result.byte_pieces - result.special_pieces;
  std::ostringstream summary;
  summary << "tokenizer: wrote " << result.model_path.string() << ": vocab size " << result.vocab_size << " ("
          << learned << " learned pieces, " << result.byte_pieces << " byte pieces, " << result.special_pieces
          << " special) in " << std::fixed << std::setprecision(2) << result.seconds << " s";
  std::cout << summary.str() << std::endl;
}

}  // namespace

void register_tokenizer_command(CLI::App& app) {
  auto* tokenizer = app.add_subcommand("tokenizer", "Tokenizer tools");
  tokenizer->require_subcommand(1);

  auto* train = tokenizer->add_subcommand(
      "train",
      "Train a SentencePiece tokenizer (Llama layout: <unk>=0, <s>=1, </s>=2, byte fallback) on text files, one "
      "sentence or paragraph per line, and write tokenizer.model with tokenizer_config.json and "
      "special_tokens_map.json beside it");
  auto args = std::make_shared<TrainArgs>();
  train->add_option("-i,--input", args->inputs, "Training text file(s)")->required()->expected(1, -1);
  train->add_option("--vocab-size", args->vocab_size, "Number of pieces, including 256 byte pieces and 3 specials")
      ->required()
      ->check(CLI::Range(std::int64_t{1}, std::int64_t{1} << 24));
  train->add_option("-o,--out", args->out,
                    "Output: a file path ending in .model, or a directory that receives tokenizer.model")
      ->required();
  train->add_option("--model-type", args->options.model_type, "SentencePiece algorithm; bpe is what Llama-family tokenizers use and what transformers converts faithfully")
      ->check(CLI::IsMember({"unigram", "bpe"}))
      ->capture_default_str();
  train->add_option("--chat-template", args->options.chat_template,
                    "Chat template written into tokenizer_config.json; chatml also adds <|im_start|> and "
                    "<|im_end|> as single pieces")
      ->check(CLI::IsMember({"plain", "zephyr", "llama2", "chatml"}))
      ->capture_default_str();
  train->add_option("--character-coverage", args->options.character_coverage,
                    "Share of characters covered by pieces; rarer ones become byte pieces")
      ->check(CLI::Range(0.5, 1.0))
      ->capture_default_str();
  train->add_option("--user-defined-symbol", args->options.user_defined_symbols,
                    "String always kept as one piece (repeatable)");
  train->add_option("--threads", args->options.threads, "Training threads; with more than 1 the result may differ from run to run")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  train->callback([args] { run_train(*args); });
}

}  // namespace selm::cli
