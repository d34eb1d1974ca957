#include <system_error>

#include "selm/text/hf_tokenizer.hpp"
#include "selm/text/sentencepiece_tokenizer.hpp"
#include "selm/text/tokenizer.hpp"
#include "selm/util/error.hpp"
#include "selm/util/files.hpp"

namespace selm {
namespace {

constexpr const char* kHfTokenizerFile = "tokenizer.json";
constexpr const char* kSentencePieceFile = "tokenizer.model";

fs::path tokenizer_file_in(const fs::path& path) {
  std::error_code error;
  if (!fs::is_directory(path, error)) return path;
  if (fs::is_regular_file(path / kHfTokenizerFile, error)) return path / kHfTokenizerFile;
  return path / kSentencePieceFile;
}

TokenizerConfig config_beside(const fs::path& tokenizer_file) {
  std::error_code error;
  const fs::path dir = tokenizer_file.parent_path();
  TokenizerConfig config;
  if (fs::exists(dir / "tokenizer_config.json", error)) config = read_tokenizer_config(dir / "tokenizer_config.json");
  const fs::path jinja_file = dir / "chat_template.jinja";
  if (fs::is_regular_file(jinja_file, error)) {
    config.chat_template = read_file(jinja_file);
    config.chat_template_file = jinja_file;
  }
  return config;
}

}  // namespace

std::unique_ptr<Tokenizer> load_tokenizer(const fs::path& path) {
  const fs::path file = tokenizer_file_in(path);
  std::error_code error;
  if (!fs::is_regular_file(file, error)) {
    const bool in_directory = fs::is_directory(path, error);
    throw_input_error(file.string(), 0, in_directory ? "tokenizer model not found (nor tokenizer.json beside it)"
                                                     : "tokenizer model not found");
  }
  TokenizerConfig config = config_beside(file);
  if (file.extension() == ".json") return HfTokenizer::load(file, std::move(config));
  return std::make_unique<SentencePieceTokenizer>(file, std::move(config));
}

bool is_hf_json_tokenizer(const Tokenizer& tokenizer) {
  return dynamic_cast<const HfTokenizer*>(&tokenizer) != nullptr;
}

}  // namespace selm
