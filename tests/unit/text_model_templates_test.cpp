// The real models' own chat templates through ChatTemplate and ChatFormatter: what a reply looks
// like and where a turn ends, read off each template without configuration, and the prompt ids
// as transformers' apply_chat_template gives them (render, then encode without adding BOS).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "selm/text/chat_format.hpp"
#include "selm/text/chat_template.hpp"
#include "selm/text/hf_tokenizer.hpp"
#include "selm/text/tokenizer.hpp"
#include "support/test_support.hpp"

namespace selm::test {
namespace SELM_UNITY_ID {

struct ModelTemplateCase {
  std::string tokenizer;
  std::string response_prefix;
  std::string end_of_turn;
  std::vector<std::int64_t> stop_ids;  // the end of turn, then EOS when it differs
};

const std::vector<ModelTemplateCase> kCases = {
    {"qwen3", "<think>\n\n</think>\n\n", "<|im_end|>", {151645}},  // eos_token is <|im_end|> itself
    {"gemma3", "", "<end_of_turn>", {106}},  // its tokenizer_config.json names <end_of_turn> as eos_token
    {"deepseek_v3", "", "<｜end▁of▁sentence｜>", {1}},
};

TEST(TextModelTemplates, ReplyFormatAndStopTokensComeFromTheTemplate) {
  for (const ModelTemplateCase& expected : kCases) {
    SCOPED_TRACE(expected.tokenizer);
    const auto tokenizer = load_tokenizer(real_tokenizer_dir(expected.tokenizer));
    ASSERT_TRUE(is_hf_json_tokenizer(*tokenizer));
    const ChatTemplate own = ChatTemplate::from_name("auto", *tokenizer);
    EXPECT_EQ(own.name(), "jinja");
    EXPECT_EQ(own.response_prefix(), expected.response_prefix);
    EXPECT_EQ(own.end_of_turn_token(), expected.end_of_turn);
    EXPECT_EQ(own.stop_ids(), expected.stop_ids);
  }
}

TEST(TextModelTemplates, ResponsesEndWithTheTurnTokenAndDecodeBack) {
  for (const ModelTemplateCase& expected : kCases) {
    SCOPED_TRACE(expected.tokenizer);
    const auto tokenizer = load_tokenizer(real_tokenizer_dir(expected.tokenizer));
    const ChatFormatter formatter(*tokenizer, ChatTemplate::from_name("auto", *tokenizer));
    for (const std::string response : {"Sure — here it is: 42.", "  spaced\n\nout  ", "好的 😊", "a <|im_end|> b"}) {
      const std::vector<std::int64_t> ids = formatter.encode_response(response);
      ASSERT_FALSE(ids.empty());
      EXPECT_EQ(ids.back(), formatter.chat_template().end_of_turn_id());
      EXPECT_EQ(formatter.decode_response(ids), response) << response;
      // Qwen3's and DeepSeek's pre-tokenizers cut before the reply, so prompt ids + reply ids
      // are exactly the ids of the whole conversation rendered by the template (Gemma's BPE may
      // merge across the newline that ends its generation prompt).
      const bool kept_verbatim = response.front() != ' ' && response.find("<|im_end|>") == std::string::npos;
      if (expected.tokenizer == "gemma3" || !kept_verbatim) continue;
      const std::string whole = formatter.chat_template().render({{"user", "Hi"}, {"assistant", response}}, false);
      std::vector<std::int64_t> joined = formatter.encode_prompt({{"user", "Hi"}});
      joined.insert(joined.end(), ids.begin(), ids.end());
      std::vector<std::int64_t> reference = tokenizer->encode_with_special_tokens(whole);
      ASSERT_GE(reference.size(), joined.size()) << whole;
      reference.resize(joined.size());  // the template's text after the end of turn ("\n")
      EXPECT_EQ(reference, joined) << whole;
    }
  }
}

TEST(TextModelTemplates, PromptsGetNoBosBeyondWhatTheTemplateWrites) {
  const auto gemma = load_tokenizer(real_tokenizer_dir("gemma3"));
  const ChatFormatter formatter(*gemma, ChatTemplate::from_name("auto", *gemma));
  const std::vector<std::int64_t> ids = formatter.encode_prompt({{"user", "Hello"}});
  ASSERT_GE(ids.size(), 2u);
  EXPECT_EQ(ids[0], gemma->bos_id());  // the template's own {{ bos_token }}
  EXPECT_NE(ids[1], gemma->bos_id());
  // The built-in templates still add BOS the way tokenizer_config.json's add_bos_token says.
  const ChatFormatter chatml(*gemma, ChatTemplate::from_name("zephyr", *gemma));
  EXPECT_EQ(chatml.encode_prompt({{"user", "Hello"}})[0], gemma->bos_id());
}

}  // namespace
}  // namespace selm::test
