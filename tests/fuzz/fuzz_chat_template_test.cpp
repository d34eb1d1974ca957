// Fuzzing chat templates themselves: the committed templates, mutated, are parsed and rendered
// by the Jinja engine with a conversation, then chosen as a model's template (which probes where
// its reply goes) and rendered again.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "fuzz/fuzz_harness.hpp"
#include "fuzz/fuzz_text_documents.hpp"
#include "selm/text/chat_template.hpp"
#include "selm/text/hf_tokenizer.hpp"
#include "selm/text/jinja.hpp"
#include "selm/text/tokenizer_config.hpp"
#include "selm/util/error.hpp"
#include "support/test_support.hpp"

namespace selm {
namespace SELM_UNITY_ID {

TEST(FuzzChatTemplate, JinjaSources) {
  test::TempDir dir;
  const fs::path tokenizer_file = dir / "tokenizer.json";
  test::write_text(tokenizer_file, fuzz_text::tokenizer_json_documents().front());
  const fs::path config_file = dir / "tokenizer_config.json";
  test::write_text(config_file, fuzz_text::tokenizer_config_documents().back());
  const TokenizerConfig base_config = read_tokenizer_config(config_file);
  const std::unique_ptr<HfTokenizer> tokenizer = HfTokenizer::load(tokenizer_file, base_config);

  const nlohmann::ordered_json context = {
      {"messages",
       {{{"role", "system"}, {"content", "Be brief."}},
        {{"role", "user"}, {"content", "Hi {{ x }}"}},
        {{"role", "assistant"}, {"content", " ok "}},
        {{"role", "user"}, {"content", "\xc3\xa9?"}}}},
      {"add_generation_prompt", true},
      {"bos_token", "<s>"},
      {"eos_token", "<|im_end|>"},
      {"tools", nullptr},
  };
  const std::vector<std::string> dictionary = {
      "{%", "%}", "{{", "}}", "{#", "#}", "{%-", "-%}", "{% endif %}", "{% endfor %}", "{% else %}",
      "{% for m in messages %}", "{% if loop.first %}", "{% set ns = namespace(a=1) %}", "{% macro f(x) %}",
      "{% endmacro %}", "{{ f(1) }}", "{% break %}", "{% continue %}", "{% raw %}", "{% endraw %}", "|tojson",
      "|join(', ')", "|replace('a', 'b')", "|length", "|trim", "|default('x')", "|int", "|float", "|round",
      "|indent(2)", "|center(9999999999)", "|selectattr('role', 'equalto', 'user')", "|map(attribute='content')",
      "[::-1]", "[1:]", "[-1]", " ~ ", " * 99999999 ", " ** 99 ", " // 0 ", " % 0 ", " is defined",
      " is none", " not ", " in ", "messages", "message['content']", "loop.index0", "range(99999999999)",
      "raise_exception('x')", "strftime_now('%Y')", ".strip()", ".split()", ".items()", ".get('a')",
      "add_generation_prompt", "eos_token", "bos_token", "namespace(", "dict(a=1)", "(((((", "'\\x", "\"\\u",
  };
  const fuzz::FuzzReport report = fuzz::run_fuzz(
      "chat_template_jinja", fuzz_text::chat_template_sources(),
      [&](const std::string& source) {
        const jinja::Template parsed = jinja::Template::parse(source, "fuzz.jinja");
        parsed.render(context);
        TokenizerConfig config = base_config;
        config.chat_template = source;
        config.chat_template_file = dir / "chat_template.jinja";
        fuzz_text::render_conversations(ChatTemplate::from_name("auto", *tokenizer, config), *tokenizer);
      },
      4000, 20261202, dictionary);
  EXPECT_GT(report.ok, 0u);
  EXPECT_GT(report.input_error, 0u);
}

}  // namespace SELM_UNITY_ID
}  // namespace selm
