#include <gtest/gtest.h>

#include "selm/text/chat_format.hpp"
#include "selm/text/chat_template.hpp"
#include "selm/text/tokenizer.hpp"
#include "selm/text/tokenizer_files.hpp"
#include "selm/util/error.hpp"
#include "support/test_support.hpp"
#include "text_test_helpers.hpp"

namespace selm::test {
namespace SELM_UNITY_ID {

const std::vector<ChatMessage> kConversation = {
    {"system", "You are kind."}, {"user", "Hi there"}, {"assistant", "Hello!"}, {"user", "Tell me a story"}};

// The Jinja template of HuggingFaceH4/zephyr-7b-beta as its tokenizer_config.json holds it.
const char* kZephyrConfig = R"({
  "legacy": true,
  "chat_template": "{% for message in messages %}\n{% if message['role'] == 'user' %}\n{{ '<|user|>\\n' + message['content'] + eos_token }}\n{% elif message['role'] == 'system' %}\n{{ '<|system|>\\n' + message['content'] + eos_token }}\n{% elif message['role'] == 'assistant' %}\n{{ '<|assistant|>\\n'  + message['content'] + eos_token }}\n{% endif %}\n{% if loop.last and add_generation_prompt %}\n{{ '<|assistant|>' }}\n{% endif %}\n{% endfor %}"
})";

std::unique_ptr<Tokenizer> tokenizer_for(const std::string& chat_template = "plain") {
  return load_tokenizer(trained_tokenizer_dir(chat_template));
}

std::unique_ptr<Tokenizer> tokenizer_with_config(const TempDir& dir, const std::string& config_json) {
  fs::copy_file(trained_tokenizer_dir() / "tokenizer.model", dir / "tokenizer.model");
  write_text(dir / "tokenizer_config.json", config_json);
  return load_tokenizer(dir.path());
}

std::string input_error_of(const std::function<void()>& action) {
  try {
    action();
  } catch (const InputError& e) {
    return e.what();
  }
  return "no InputError";
}

TEST(TextChatTemplate, ZephyrRendersExactly) {
  const auto tokenizer = tokenizer_for();
  const auto zephyr = ChatTemplate::from_name("zephyr", *tokenizer);
  const std::string expected =
      "<|system|>\nYou are kind.</s>\n<|user|>\nHi there</s>\n<|assistant|>\nHello!</s>\n<|user|>\nTell me a story</s>\n";
  EXPECT_EQ(zephyr.render(kConversation, false), expected);
  EXPECT_EQ(zephyr.render(kConversation, true), expected + "<|assistant|>\n");
  EXPECT_EQ(zephyr.end_of_turn_id(), tokenizer->eos_id());
  EXPECT_EQ(zephyr.stop_ids(), std::vector<std::int64_t>{tokenizer->eos_id()});
  EXPECT_EQ(zephyr.response_prefix(), "");
}

TEST(TextChatTemplate, Llama2RendersExactly) {
  const auto llama2 = ChatTemplate::from_name("llama2", *tokenizer_for());
  const std::string expected =
      "<s>[INST] <<SYS>>\nYou are kind.\n<</SYS>>\n\nHi there [/INST] Hello! </s><s>[INST] Tell me a story [/INST]";
  EXPECT_EQ(llama2.render(kConversation, false), expected);
  EXPECT_EQ(llama2.render(kConversation, true), expected);
  EXPECT_EQ(llama2.render({{"user", "  padded  "}}, true), "<s>[INST] padded [/INST]");
  EXPECT_EQ(llama2.response_prefix(), " ");
  EXPECT_NE(input_error_of([&] { llama2.render({{"user", "a"}, {"user", "b"}}, true); }).find("messages[1].role"),
            std::string::npos);
}

TEST(TextChatTemplate, ChatmlRendersExactly) {
  const auto tokenizer = tokenizer_for("chatml");
  const auto chatml = ChatTemplate::from_name("chatml", *tokenizer);
  const std::string expected =
      "<|im_start|>system\nYou are kind.<|im_end|>\n<|im_start|>user\nHi there<|im_end|>\n"
      "<|im_start|>assistant\nHello!<|im_end|>\n<|im_start|>user\nTell me a story<|im_end|>\n";
  EXPECT_EQ(chatml.render(kConversation, false), expected);
  EXPECT_EQ(chatml.render(kConversation, true), expected + "<|im_start|>assistant\n");
  const std::int64_t im_end = *tokenizer->token_to_id("<|im_end|>");
  EXPECT_EQ(chatml.end_of_turn_id(), im_end);
  EXPECT_EQ(chatml.stop_ids(), (std::vector<std::int64_t>{im_end, tokenizer->eos_id()}));
}

TEST(TextChatTemplate, PlainJoinsContents) {
  const auto plain = ChatTemplate::from_name("plain", *tokenizer_for());
  EXPECT_EQ(plain.render(kConversation, false), "You are kind.\nHi there\nHello!\nTell me a story");
  EXPECT_EQ(plain.render(kConversation, true), "You are kind.\nHi there\nHello!\nTell me a story");
  EXPECT_EQ(plain.render({{"user", "Once upon a time"}}, true), "Once upon a time");
}

TEST(TextChatTemplate, UnknownRoleIsInputError) {
  const auto zephyr = ChatTemplate::from_name("zephyr", *tokenizer_for());
  EXPECT_NE(input_error_of([&] { zephyr.render({{"bot", "x"}}, true); }).find("unknown role 'bot'"), std::string::npos);
}

TEST(TextChatTemplate, AutoRendersTheModelsOwnTemplate) {
  // zephyr-7b-beta's own template is not the Jinja selm writes for zephyr: it is rendered as it
  // stands, and gives the same text as the built-in zephyr.
  TempDir zephyr_dir;
  const auto zephyr_tokenizer = tokenizer_with_config(zephyr_dir, kZephyrConfig);
  const auto own = ChatTemplate::from_name("auto", *zephyr_tokenizer);
  EXPECT_EQ(own.name(), "jinja");
  EXPECT_TRUE(own.is_model_template());
  const auto builtin = ChatTemplate::from_name("zephyr", *zephyr_tokenizer);
  EXPECT_EQ(own.render(kConversation, false), builtin.render(kConversation, false));
  EXPECT_EQ(own.render(kConversation, true), builtin.render(kConversation, true));
  EXPECT_EQ(own.response_prefix(), "");
  EXPECT_EQ(own.end_of_turn_token(), "</s>");
  EXPECT_EQ(own.stop_ids(), std::vector<std::int64_t>{zephyr_tokenizer->eos_id()});
  EXPECT_EQ(own.jinja(), zephyr_tokenizer->config().chat_template);
  TempDir none_dir;
  EXPECT_EQ(ChatTemplate::from_name("auto", *tokenizer_with_config(none_dir, "{}")).name(), "plain");
  // An explicit name wins over the config.
  EXPECT_EQ(ChatTemplate::from_name("plain", *zephyr_tokenizer).name(), "plain");
}

TEST(TextChatTemplate, ModelTemplateShowsItsResponsePrefixAndEndOfTurn) {
  // A ChatML template whose replies start with a fixed text, as Qwen3's start with an empty
  // reasoning block.
  const auto chatml_tokenizer = tokenizer_for("chatml");
  TempDir chatml_dir;
  fs::copy_file(chatml_tokenizer->model_path(), chatml_dir / "tokenizer.model");
  auto config = nlohmann::json::parse(read_text(chatml_tokenizer->config().path));
  config["chat_template"] =
      "{%- for m in messages %}{{ '<|im_start|>' + m.role + '\\n' }}{% if m.role == 'assistant' %}{{ 'Well ' }}"
      "{% endif %}{{ m.content + '<|im_end|>\\n' }}{%- endfor %}{% if add_generation_prompt %}"
      "{{ '<|im_start|>assistant\\n' }}{% endif %}";
  write_text(chatml_dir / "tokenizer_config.json", config.dump());
  const auto own_tokenizer = load_tokenizer(chatml_dir.path());
  const auto own = ChatTemplate::from_name("auto", *own_tokenizer);
  EXPECT_EQ(own.name(), "jinja");
  EXPECT_EQ(own.render({{"user", "Hi"}}, true), "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
  EXPECT_EQ(own.response_prefix(), "Well ");
  EXPECT_EQ(own.end_of_turn_token(), "<|im_end|>");
  const std::int64_t im_end = *own_tokenizer->token_to_id("<|im_end|>");
  EXPECT_EQ(own.stop_ids(), (std::vector<std::int64_t>{im_end, own_tokenizer->eos_id()}));
  // The formatter: no BOS of its own, the prefix ahead of the reply, and back again.
  const ChatFormatter formatter(*own_tokenizer, own);
  EXPECT_EQ(formatter.encode_prompt({{"user", "Hi"}}),
            own_tokenizer->encode_with_special_tokens("<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"));
  const auto response = formatter.encode_response("Fine");
  EXPECT_EQ(response.back(), im_end);
  EXPECT_EQ(formatter.decode_response(response), "Fine");
}

TEST(TextChatTemplate, ModelTemplateThatCannotShowAReplyIsAnInputError) {
  TempDir dir;
  const auto tokenizer = tokenizer_with_config(dir, R"({"chat_template": "{{ bos_token + '[INST] ' + messages[0]['content'] + ' [/INST]' }}"})");
  const std::string message = input_error_of([&] { ChatTemplate::from_name("auto", *tokenizer); });
  EXPECT_NE(message.find((dir / "tokenizer_config.json").string() + " (chat_template): the template does not write an "
                         "assistant message's content"), std::string::npos) << message;
  TempDir raising_dir;
  const auto raising = tokenizer_with_config(raising_dir, R"({"chat_template": "{{ raise_exception('system message required') }}"})");
  const std::string raised = input_error_of([&] { ChatTemplate::from_name("auto", *raising); });
  EXPECT_NE(raised.find("system message required"), std::string::npos) << raised;
  TempDir broken_dir;
  const auto broken = tokenizer_with_config(broken_dir, R"({"chat_template": "{% for m in messages %}{{ m.content }}"})");
  const std::string unclosed = input_error_of([&] { ChatTemplate::from_name("auto", *broken); });
  EXPECT_NE(unclosed.find((broken_dir / "tokenizer_config.json").string() + " (chat_template):1"), std::string::npos)
      << unclosed;
}

TEST(TextChatTemplate, AutoRecognisesTheJinjaSelmWritesForEachTemplate) {
  for (const std::string name : {"plain", "zephyr", "llama2", "chatml"}) {
    const auto tokenizer = tokenizer_for(name == "chatml" ? "chatml" : "plain");
    TempDir dir;
    fs::copy_file(tokenizer->model_path(), dir / "tokenizer.model");
    write_tokenizer_config_files(*tokenizer, dir.path(), name);
    const auto reloaded = load_tokenizer(dir.path());
    EXPECT_EQ(ChatTemplate::from_name("auto", *reloaded).name(), name);
  }
}

TEST(TextChatTemplate, JinjaFixturesAreTheBuiltInTemplates) {
  // tests/data/chat_templates/NAME.jinja are what the Jinja reference test compares with jinja2.
  for (const std::string name : {"plain", "zephyr", "llama2", "chatml"}) {
    const auto tokenizer = tokenizer_for(name == "chatml" ? "chatml" : "plain");
    EXPECT_EQ(read_text(test_data_dir() / "chat_templates" / (name + ".jinja")),
              ChatTemplate::from_name(name, *tokenizer).jinja())
        << name << ".jinja is stale";
  }
}

TEST(TextChatTemplate, UnknownTemplateNamesAreInputErrors) {
  const auto tokenizer = tokenizer_for();
  EXPECT_NE(input_error_of([&] { ChatTemplate::from_name("vicuna", *tokenizer); }).find("unknown chat template 'vicuna'"),
            std::string::npos);
}

TEST(TextChatTemplate, ChatmlNeedsImEndToken) {
  const auto tokenizer = tokenizer_for("plain");
  const std::string message = input_error_of([&] { ChatTemplate::from_name("chatml", *tokenizer); });
  EXPECT_NE(message.find("template chatml needs <|im_end|> as a single token; tokenizer.model has none"),
            std::string::npos)
      << message;
  EXPECT_EQ(message.rfind((trained_tokenizer_dir() / "tokenizer.model").string(), 0), 0u) << message;
}

TEST(TextChatFormat, PromptIdsStartWithBosAndKeepSpecialTokens) {
  const auto tokenizer = tokenizer_for();
  const ChatFormatter formatter(*tokenizer, ChatTemplate::from_name("zephyr", *tokenizer));
  const auto ids = formatter.encode_prompt(kConversation);
  const std::string text = formatter.render_prompt(kConversation);
  auto expected = tokenizer->encode_with_special_tokens(text);
  expected.insert(expected.begin(), tokenizer->bos_id());
  EXPECT_EQ(ids, expected);
  EXPECT_EQ(std::count(ids.begin(), ids.end(), tokenizer->eos_id()), 4);  // one per turn
  EXPECT_EQ(std::count(ids.begin(), ids.end(), tokenizer->bos_id()), 1);
}

TEST(TextChatFormat, Llama2PromptHasOneBosPerTurnNotTwo) {
  const auto tokenizer = tokenizer_for();
  const ChatFormatter formatter(*tokenizer, ChatTemplate::from_name("llama2", *tokenizer));
  const auto ids = formatter.encode_prompt({{"user", "Hi"}});
  ASSERT_GE(ids.size(), 2u);
  EXPECT_EQ(ids[0], tokenizer->bos_id());
  EXPECT_NE(ids[1], tokenizer->bos_id());
  EXPECT_EQ(std::count(ids.begin(), ids.end(), tokenizer->bos_id()), 1);
}

TEST(TextChatFormat, AddBosTokenFalseOmitsBos) {
  TempDir dir;
  const auto tokenizer = tokenizer_with_config(dir, R"({"add_bos_token": false, "legacy": false})");
  const ChatFormatter formatter(*tokenizer, ChatTemplate::from_name("plain", *tokenizer));
  EXPECT_EQ(formatter.encode_prompt({{"user", "The old sailor"}}), tokenizer->encode_with_special_tokens("The old sailor"));
}

TEST(TextChatFormat, SystemPromptIsInsertedOnce) {
  const auto tokenizer = tokenizer_for();
  const ChatFormatter formatter(*tokenizer, ChatTemplate::from_name("zephyr", *tokenizer), "Be brief.");
  EXPECT_EQ(formatter.render_prompt({{"user", "Hi"}}), "<|system|>\nBe brief.</s>\n<|user|>\nHi</s>\n<|assistant|>\n");
  EXPECT_EQ(formatter.render_prompt({{"system", "Own."}, {"user", "Hi"}}),
            "<|system|>\nOwn.</s>\n<|user|>\nHi</s>\n<|assistant|>\n");
}

TEST(TextChatFormat, ResponseIdsContinueThePromptAsInTheFullConversation) {
  const auto tokenizer = tokenizer_for();
  const ChatFormatter formatter(*tokenizer, ChatTemplate::from_name("zephyr", *tokenizer));
  const std::vector<ChatMessage> prompt = {{"user", "Tell me about the harbour."}};
  const std::string response = "The old sailor watched 3 boats, then left.";
  auto generated = formatter.encode_prompt(prompt);
  const auto response_ids = formatter.encode_response(response);
  EXPECT_EQ(response_ids.back(), tokenizer->eos_id());
  generated.insert(generated.end(), response_ids.begin(), response_ids.end());
  // The whole conversation tokenised at once starts with the same ids.
  std::vector<ChatMessage> full = prompt;
  full.push_back({"assistant", response});
  auto whole = tokenizer->encode_with_special_tokens(ChatTemplate::from_name("zephyr", *tokenizer).render(full, false));
  whole.insert(whole.begin(), tokenizer->bos_id());
  ASSERT_GE(whole.size(), generated.size());
  EXPECT_EQ(std::vector<std::int64_t>(whole.begin(), whole.begin() + static_cast<std::ptrdiff_t>(generated.size())), generated);
  EXPECT_EQ(formatter.decode_response(response_ids), response);
}

TEST(TextChatFormat, ChatmlResponseEndsWithImEndAndDecodeStopsThere) {
  const auto tokenizer = tokenizer_for("chatml");
  const ChatFormatter formatter(*tokenizer, ChatTemplate::from_name("chatml", *tokenizer));
  auto ids = formatter.encode_response("Hello there");
  EXPECT_EQ(ids.back(), *tokenizer->token_to_id("<|im_end|>"));
  const auto tail = tokenizer->encode_continuation("ignored after the stop");
  ids.insert(ids.end(), tail.begin(), tail.end());
  EXPECT_EQ(formatter.decode_response(ids), "Hello there");
  // The prompt's markers are single tokens.
  const auto prompt = formatter.encode_prompt({{"user", "Hi"}});
  EXPECT_EQ(std::count(prompt.begin(), prompt.end(), *tokenizer->token_to_id("<|im_start|>")), 2);
}

TEST(TextChatFormat, Llama2ResponseFollowsASpace) {
  const auto tokenizer = tokenizer_for();
  const ChatFormatter formatter(*tokenizer, ChatTemplate::from_name("llama2", *tokenizer));
  const auto ids = formatter.encode_response("Hello there");
  EXPECT_EQ(std::vector<std::int64_t>(ids.begin(), ids.end() - 1), tokenizer->encode("Hello there"));
  EXPECT_EQ(formatter.decode_response(ids), "Hello there");
}

TEST(TextChatFormat, ParsesPromptRecords) {
  EXPECT_EQ(parse_prompt_record(nlohmann::json::parse(R"({"prompt": "Hi"})"), "p.jsonl", 1),
            (std::vector<ChatMessage>{{"user", "Hi"}}));
  EXPECT_EQ(parse_prompt_record(nlohmann::json::parse(
                                    R"({"messages": [{"role": "system", "content": "S"}, {"role": "user", "content": "U"}]})"),
                                "p.jsonl", 2),
            (std::vector<ChatMessage>{{"system", "S"}, {"user", "U"}}));
}

TEST(TextChatFormat, MalformedPromptRecordsNameFileLineAndKey) {
  auto error_for = [](const char* json) {
    return input_error_of([&] { parse_prompt_record(nlohmann::json::parse(json), "prompts.jsonl", 7); });
  };
  EXPECT_EQ(error_for(R"({"messages": [{"role": "user", "content": 5}]})"),
            "prompts.jsonl:7: messages[0].content: must be a string");
  EXPECT_EQ(error_for(R"({"messages": [{"role": "user", "content": "a"}, {"content": "b"}]})"),
            "prompts.jsonl:7: messages[1].role: missing");
  EXPECT_EQ(error_for(R"({"messages": [{"role": "bot", "content": "a"}]})"),
            "prompts.jsonl:7: messages[0].role: unknown role 'bot' (expected system, user or assistant)");
  EXPECT_EQ(error_for(R"({"messages": "hello"})"),
            "prompts.jsonl:7: messages: must be a list of {\"role\", \"content\"} objects");
  EXPECT_EQ(error_for(R"({"text": "hello"})"), "prompts.jsonl:7: record needs a \"prompt\" string or a \"messages\" list");
  EXPECT_EQ(error_for(R"({"prompt": 3})"), "prompts.jsonl:7: prompt: must be a string or a list of messages");
}

TEST(TextTokenizerFiles, WritesAModelDirectoryThatLoadsBack) {
  const auto tokenizer = tokenizer_for();
  TempDir model_dir;
  write_tokenizer_files(*tokenizer, model_dir.path(), "zephyr");
  EXPECT_EQ(read_text(model_dir / "tokenizer.model"), read_text(trained_tokenizer_dir() / "tokenizer.model"));
  const auto reloaded = load_tokenizer(model_dir.path());
  EXPECT_EQ(ChatTemplate::from_name("auto", *reloaded).name(), "zephyr");
  EXPECT_EQ(reloaded->config().chat_template, ChatTemplate::from_name("zephyr", *tokenizer).jinja());
  EXPECT_EQ(reloaded->config().legacy, tokenizer->config().legacy);
  EXPECT_EQ(reloaded->encode_with_special_tokens("Hi</s>there"), tokenizer->encode_with_special_tokens("Hi</s>there"));
  const auto config = nlohmann::json::parse(read_text(model_dir / "tokenizer_config.json"));
  EXPECT_EQ(config["tokenizer_class"], "LlamaTokenizer");
  EXPECT_EQ(config["bos_token"], "<s>");
  EXPECT_EQ(config["eos_token"], "</s>");
  EXPECT_EQ(config["unk_token"], "<unk>");
  EXPECT_TRUE(config["pad_token"].is_null());
  EXPECT_EQ(config["add_bos_token"], true);
  EXPECT_EQ(config["add_eos_token"], false);
  EXPECT_EQ(config["added_tokens_decoder"]["2"]["content"], "</s>");
  EXPECT_EQ(config["added_tokens_decoder"]["2"]["special"], true);
  const auto special = nlohmann::json::parse(read_text(model_dir / "special_tokens_map.json"));
  EXPECT_EQ(special["eos_token"]["content"], "</s>");
  // "auto" keeps an original Jinja template verbatim.
  TempDir zephyr_dir, copy_dir;
  const auto zephyr = tokenizer_with_config(zephyr_dir, kZephyrConfig);
  write_tokenizer_files(*zephyr, copy_dir.path(), "auto");
  EXPECT_EQ(load_tokenizer(copy_dir.path())->config().chat_template, zephyr->config().chat_template);
}

}  // namespace
}  // namespace selm::test
