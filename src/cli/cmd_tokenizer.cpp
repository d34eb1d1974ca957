// `selm tokenizer train`: trains a SentencePiece tokenizer for a new model.
// `selm tokenizer encode` and `selm tokenizer chat`: the ids a model directory's tokenizer and
// chat template give, to check them against transformers before a run.
#include <algorithm>
#include <iomanip>
#include <iostream>
#include <memory>
#include <sstream>

#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "selm/text/chat_format.hpp"
#include "selm/text/chat_template.hpp"
#include "selm/text/sentencepiece_tokenizer.hpp"
#include "selm/util/error.hpp"
#include "selm/util/files.hpp"

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

struct EncodeArgs {
  std::string tokenizer;
  std::string text;
  bool plain = false;
};

nlohmann::json pieces_of(const Tokenizer& tokenizer, const std::vector<std::int64_t>& ids) {
  nlohmann::json pieces = nlohmann::json::array();
  for (const std::int64_t id : ids) pieces.push_back(tokenizer.id_to_piece(id));
  return pieces;
}

void run_encode(const EncodeArgs& args) {
  const auto tokenizer = load_tokenizer(args.tokenizer);
  const std::vector<std::int64_t> ids =
      args.plain ? tokenizer->encode(args.text) : tokenizer->encode_with_special_tokens(args.text);
  const nlohmann::json result = {{"ids", ids},
                                 {"tokens", pieces_of(*tokenizer, ids)},
                                 {"decoded", tokenizer->decode(ids, /*skip_special_tokens=*/false)}};
  std::cout << result.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
}

struct ChatArgs {
  std::string tokenizer;
  std::string chat_template = "auto";
  std::string messages_file;
  bool no_generation_prompt = false;
};

// One line per conversation of a prompts JSONL: the rendered text and the prompt ids, as
// generation and training see them.
void run_chat(const ChatArgs& args) {
  const auto tokenizer = load_tokenizer(args.tokenizer);
  const ChatFormatter formatter(*tokenizer, ChatTemplate::from_name(args.chat_template, *tokenizer));
  for (const auto& [line_number, record] : read_jsonl(args.messages_file)) {
    const std::vector<ChatMessage> messages = parse_prompt_record(record, args.messages_file, line_number);
    const std::string rendered = formatter.chat_template().render(messages, !args.no_generation_prompt);
    const std::vector<std::int64_t> ids =
        args.no_generation_prompt ? tokenizer->encode_with_special_tokens(rendered) : formatter.encode_prompt(messages);
    const nlohmann::json result = {{"line", line_number}, {"text", rendered}, {"ids", ids}};
    std::cout << result.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  }
  const ChatTemplate& chat_template = formatter.chat_template();
  const nlohmann::json summary = {{"summary", true},
                                  {"chat_template", chat_template.name()},
                                  {"response_prefix", chat_template.response_prefix()},
                                  {"end_of_turn", chat_template.end_of_turn_token()},
                                  {"stop_ids", formatter.stop_ids()}};
  std::cout << summary.dump() << "\n";
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

  auto* encode = tokenizer->add_subcommand("encode", "Print the ids, tokens and decoding of a text (JSON)");
  auto encode_args = std::make_shared<EncodeArgs>();
  encode->add_option("--tokenizer", encode_args->tokenizer,
                     "tokenizer.json, tokenizer.model, or a model directory (tokenizer.json wins)")
      ->required();
  encode->add_option("--text", encode_args->text, "Text to encode")->required();
  encode->add_flag("--plain", encode_args->plain,
                   "Special-token strings (<|im_end|>, </s>) are ordinary text instead of their ids");
  encode->footer("Special tokens in the text become their ids and no BOS is added: transformers'\n"
                 "tokenizer.encode(text, add_special_tokens=False).");
  encode->callback([encode_args] { run_encode(*encode_args); });

  auto* chat = tokenizer->add_subcommand(
      "chat", "Render each conversation of a prompts JSONL with the chat template and print its prompt ids (JSON lines)");
  auto chat_args = std::make_shared<ChatArgs>();
  chat->add_option("--tokenizer", chat_args->tokenizer,
                   "tokenizer.json, tokenizer.model, or a model directory (tokenizer.json wins)")
      ->required();
  chat->add_option("--messages", chat_args->messages_file,
                   "Prompts JSONL: {\"prompt\": ...} or {\"messages\": [...]} per line")
      ->required()
      ->check(CLI::ExistingFile);
  chat->add_option("--chat-template", chat_args->chat_template,
                   "auto (the model's own template), zephyr, llama2, chatml or plain")
      ->check(CLI::IsMember({"auto", "plain", "zephyr", "llama2", "chatml"}))
      ->capture_default_str();
  chat->add_flag("--no-generation-prompt", chat_args->no_generation_prompt,
                 "Render without the assistant's generation prompt (whole conversations)");
  chat->footer("With the generation prompt the ids are exactly the prompt ids of generation and training;\n"
               "a last summary line names the template, the reply's prefix, its end-of-turn token and the stop ids.");
  chat->callback([chat_args] { run_chat(*chat_args); });
}

}  // namespace selm::cli
