// Fuzzing the Hugging Face tokenizer files: tokenizer.json (small documents of each supported
// layout, so that a case costs microseconds; every accepted one then encodes and decodes a few
// texts) and tokenizer_config.json (read, then used with a fixed tokenizer.json to pick and
// render the chat template it names).
#include <gtest/gtest.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "fuzz/fuzz_harness.hpp"
#include "fuzz/fuzz_text_documents.hpp"
#include "selm/text/chat_template.hpp"
#include "selm/text/hf_tokenizer.hpp"
#include "selm/text/tokenizer_config.hpp"
#include "selm/util/error.hpp"
#include "support/test_support.hpp"

namespace selm {
namespace SELM_UNITY_ID {

using nlohmann::json;

// Encodes and decodes texts with special tokens, odd spacing and ill-formed UTF-8; ids that
// encode produced must decode and name pieces without errors of any kind.
void exercise_tokenizer(const HfTokenizer& tokenizer) {
  for (const char* text : {"Hello world! It's 2024.", "h\xc3\xa9llo\t<|im_end|> w\xc3\xb6rld  \n<s>hi</s>",
                           "\xff\xfe\xc3 broken", "  "}) {
    for (const std::vector<std::int64_t>& ids :
         {tokenizer.encode(text), tokenizer.encode_with_special_tokens(text), tokenizer.encode_continuation(text),
          tokenizer.encode_with_post_processor(text)}) {
      for (const std::int64_t id : ids) {
        if (id < 0 || id >= tokenizer.vocab_size()) throw std::logic_error("encode gave an id outside the vocabulary");
        tokenizer.id_to_piece(id);
        tokenizer.is_special(id);
      }
      tokenizer.decode(ids);
      tokenizer.decode(ids, /*skip_special_tokens=*/false);
      tokenizer.decode_continuation(ids);
    }
  }
}

TEST(FuzzTokenizer, TokenizerJson) {
  test::TempDir dir;
  const fs::path file = dir / "tokenizer.json";
  const std::vector<std::string> corpus = fuzz_text::tokenizer_json_documents();
  const fuzz::FuzzReport report = fuzz::run_fuzz(
      "tokenizer_json", corpus,
      [&](const std::string& bytes) {
        test::write_text(file, bytes);
        exercise_tokenizer(*HfTokenizer::load(file));
      },
      4000, 20261202, fuzz_text::tokenizer_json_dictionary());
  EXPECT_GT(report.ok, 0u);
  EXPECT_GT(report.input_error, 0u);
}

TEST(FuzzTokenizer, TokenizerConfigJsonWithChatTemplate) {
  test::TempDir dir;
  const fs::path tokenizer_file = dir / "tokenizer.json";
  test::write_text(tokenizer_file, fuzz_text::tokenizer_json_documents().front());
  const fs::path config_file = dir / "tokenizer_config.json";
  const std::vector<std::string> corpus = fuzz_text::tokenizer_config_documents();
  const std::vector<std::string> dictionary = {
      "\"chat_template\"", "\"added_tokens_decoder\"", "\"bos_token\"", "\"eos_token\"", "\"pad_token\"",
      "\"unk_token\"", "\"legacy\"", "\"add_bos_token\"", "\"add_prefix_space\"", "\"model_max_length\"",
      "\"clean_up_tokenization_spaces\"", "\"additional_special_tokens\"", "\"special\"", "\"content\"",
      "\"lstrip\"", "\"rstrip\"", "\"<|im_end|>\"", "\"<|im_start|>\"", "\"</s>\"", "{{ eos_token }}",
      "{% for m in messages %}", "{% endfor %}", "{\"content\": \"<x>\", \"special\": true}", "\"300\"", "\"-1\"",
  };
  const fuzz::FuzzReport report = fuzz::run_fuzz(
      "tokenizer_config_json", corpus,
      [&](const std::string& bytes) {
        test::write_text(config_file, bytes);
        const TokenizerConfig config = read_tokenizer_config(config_file);
        const std::unique_ptr<HfTokenizer> tokenizer = HfTokenizer::load(tokenizer_file, config);
        exercise_tokenizer(*tokenizer);
        fuzz_text::render_conversations(ChatTemplate::from_name("auto", *tokenizer, config), *tokenizer);
      },
      3000, 20261202, dictionary);
  EXPECT_GT(report.ok, 0u);
  EXPECT_GT(report.input_error, 0u);
}

}  // namespace SELM_UNITY_ID
}  // namespace selm
