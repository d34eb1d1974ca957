// Seed documents of the text harnesses: small tokenizer.json files of each supported layout
// (a few KB, so that thousands of mutated loads take seconds), tokenizer_config.json files and
// chat templates, and the conversations the templates render.
#pragma once

#include <algorithm>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "selm/text/chat_template.hpp"
#include "selm/text/tokenizer.hpp"
#include "support/test_support.hpp"
#include "support/tokenizer_documents.hpp"

namespace selm::fuzz_text {

using nlohmann::json;
using selm::test::tokenizer_json::added_token;
using selm::test::tokenizer_json::bpe_model;
using selm::test::tokenizer_json::byte_character;
using selm::test::tokenizer_json::document;
using selm::test::tokenizer_json::sentencepiece_tokenizer;

// The special tokens of every template in the corpora, added after a model's vocabulary.
inline json chat_added_tokens(std::int64_t first_id) {
  json tokens = json::array();
  for (const char* content : {"<unk>", "<s>", "</s>", "<|im_start|>", "<|im_end|>", "<|user|>", "<|assistant|>",
                              "<|system|>", "<|endoftext|>"}) {
    tokens.push_back(added_token(first_id++, content, true));
  }
  tokens.push_back(added_token(first_id, "<think>", false));
  return tokens;
}

// Byte-level BPE in the Llama 3 / Qwen layout: a Split regex, then ByteLevel without its own
// regex; the chat tokens added. The first document: the tokenizer_config harness loads it.
inline json byte_level_tokenizer() {
  std::vector<std::string> vocab;
  for (int byte = 0; byte < 256; ++byte) vocab.push_back(byte_character(byte));
  for (const char* token : {"he", "ll", "hell", "hello", "\xc4\xa0w", "or", "\xc4\xa0wor", "ld", "\xc4\xa0world"}) {
    vocab.push_back(token);
  }
  json tokenizer = document(
      bpe_model(vocab, json::array({"h e", "l l", "he ll", "hell o", "\xc4\xa0 w", "o r", "\xc4\xa0w or", "l d",
                                    "\xc4\xa0wor ld"})));
  tokenizer["added_tokens"] = chat_added_tokens(static_cast<std::int64_t>(vocab.size()));
  tokenizer["normalizer"] = {{"type", "NFC"}};
  tokenizer["pre_tokenizer"] = {
      {"type", "Sequence"},
      {"pretokenizers",
       {{{"type", "Split"},
         {"pattern", {{"Regex", "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"}}},
         {"behavior", "Isolated"},
         {"invert", false}},
        {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", false}}}}};
  tokenizer["decoder"] = {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", true}, {"use_regex", true}};
  tokenizer["post_processor"] = {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", false}};
  return tokenizer;
}

// Metaspace pre-tokenizer and decoder, merges as strings.
inline json metaspace_tokenizer() {
  json model = bpe_model({"\xe2\x96\x81", "a", "b", "\xe2\x96\x81""a", "\xe2\x96\x81""b", "<unk>", "a\xe2\x96\x81"},
                         json::array({"a \xe2\x96\x81", "\xe2\x96\x81 a", "\xe2\x96\x81 b"}));
  model["unk_token"] = "<unk>";
  json tokenizer = document(model);
  tokenizer["added_tokens"] = {added_token(7, "<x>", true)};
  tokenizer["pre_tokenizer"] = {{"type", "Metaspace"}, {"replacement", "\xe2\x96\x81"}, {"prepend_scheme", "first"},
                                {"split", true}};
  tokenizer["decoder"] = {{"type", "Metaspace"}, {"replacement", "\xe2\x96\x81"}, {"prepend_scheme", "always"},
                          {"split", true}};
  return tokenizer;
}

// A model without merges over words and printable ASCII, behind the normalizers and
// pre-tokenizers that the other documents lack, with Bert/Roberta post-processing.
inline json word_tokenizer() {
  std::vector<std::string> words = {"hello", "world", "it", "##s", "2024"};
  for (char c = ' '; c <= '~'; ++c) {
    if (std::find(words.begin(), words.end(), std::string(1, c)) == words.end()) words.emplace_back(1, c);
  }
  words.push_back("<unk>");
  json model = bpe_model(words, json::array());
  model["ignore_merges"] = true;
  model["unk_token"] = "<unk>";
  model["continuing_subword_prefix"] = "##";
  json tokenizer = document(model);
  const auto size = static_cast<std::int64_t>(words.size());
  tokenizer["added_tokens"] = {added_token(size, "<s>", true), added_token(size + 1, "</s>", true)};
  tokenizer["normalizer"] = {{"type", "Sequence"},
                             {"normalizers",
                              {{{"type", "NFKD"}},
                               {{"type", "StripAccents"}},
                               {{"type", "Lowercase"}},
                               {{"type", "Replace"}, {"pattern", {{"Regex", "\\s+"}}}, {"content", " "}},
                               {{"type", "Strip"}, {"strip_left", true}, {"strip_right", true}}}}};
  tokenizer["pre_tokenizer"] = {{"type", "Sequence"},
                                {"pretokenizers",
                                 {{{"type", "WhitespaceSplit"}},
                                  {{"type", "Digits"}, {"individual_digits", false}},
                                  {{"type", "Punctuation"}, {"behavior", "Isolated"}},
                                  {{"type", "BertPreTokenizer"}},
                                  {{"type", "Whitespace"}}}}};
  tokenizer["decoder"] = {{"type", "Sequence"},
                          {"decoders",
                           {{{"type", "Replace"}, {"pattern", {{"Regex", "_+"}}}, {"content", " "}},
                            {{"type", "BPEDecoder"}, {"suffix", "</w>"}}}}};
  tokenizer["post_processor"] = {
      {"type", "Sequence"},
      {"processors",
       {{{"type", "RobertaProcessing"}, {"cls", {"<s>", size}}, {"sep", {"</s>", size + 1}}, {"trim_offsets", true},
         {"add_prefix_space", false}},
        {{"type", "BertProcessing"}, {"cls", {"<s>", size}}, {"sep", {"</s>", size + 1}}}}}};
  return tokenizer;
}

inline std::vector<std::string> tokenizer_json_documents() {
  return {byte_level_tokenizer().dump(), sentencepiece_tokenizer().dump(), metaspace_tokenizer().dump(),
          word_tokenizer().dump()};
}

inline const std::vector<std::string>& tokenizer_json_dictionary() {
  static const std::vector<std::string> words = {
      "\"type\"", "\"BPE\"", "\"vocab\"", "\"merges\"", "\"added_tokens\"", "\"normalizer\"", "\"pre_tokenizer\"",
      "\"decoder\"", "\"post_processor\"", "\"Sequence\"", "\"ByteLevel\"", "\"Metaspace\"", "\"Split\"",
      "\"Regex\"", "\"String\"", "\"TemplateProcessing\"", "\"SpecialToken\"", "\"ByteFallback\"", "\"Fuse\"",
      "\"Strip\"", "\"Replace\"", "\"Prepend\"", "\"NFC\"", "\"NFKC\"", "\"Lowercase\"", "\"Digits\"",
      "\"unk_token\"", "\"byte_fallback\"", "\"fuse_unk\"", "\"ignore_merges\"", "\"continuing_subword_prefix\"",
      "\"end_of_word_suffix\"", "\"prepend_scheme\"", "\"use_regex\"", "\"special\"", "\"content\"", "\"id\"",
      "\"ids\"", "\"tokens\"", "\"behavior\"", "\"invert\"", "\"(a|b)*\"", "\"[\"", "\"(?<=x)\"", "\"\\\\p{L}+\"",
      "\"((((((((((a*)*)*)*)*)*)*)*)*)*)*b\"", "\"\\\\\"",
  };
  return words;
}

// The committed chat templates, and the templates as tokenizer_config.json holds them.
inline std::vector<std::string> chat_template_sources() {
  std::vector<std::filesystem::path> paths;
  for (const auto& entry : std::filesystem::directory_iterator(test::test_data_dir() / "chat_templates")) {
    if (entry.path().extension() == ".jinja") paths.push_back(entry.path());
  }
  std::sort(paths.begin(), paths.end());
  std::vector<std::string> sources;
  for (const std::filesystem::path& path : paths) sources.push_back(test::read_text(path));
  const json tiny = json::parse(test::read_text(test::test_data_dir() / "hf" / "selm_tiny" / "tokenizer_config.json"));
  sources.push_back(tiny.at("chat_template").get<std::string>());
  return sources;
}

inline std::vector<std::string> tokenizer_config_documents() {
  std::vector<std::string> documents = {
      test::read_text(test::test_data_dir() / "hf" / "selm_tiny" / "tokenizer_config.json")};
  // The ids that byte_level_tokenizer() gives them, as a model's own files agree.
  const json tokenizer = byte_level_tokenizer();
  json added = json::object();
  for (const auto& token : tokenizer["added_tokens"]) {
    added[std::to_string(token["id"].get<std::int64_t>())] = {{"content", token["content"]}, {"lstrip", false},
                                                               {"rstrip", false}, {"special", token["special"]}};
  }
  for (const std::string& source : chat_template_sources()) {
    documents.push_back(json({{"bos_token", "<s>"},
                              {"eos_token", "<|im_end|>"},
                              {"unk_token", "<unk>"},
                              {"pad_token", nullptr},
                              {"add_bos_token", false},
                              {"legacy", false},
                              {"model_max_length", 4096},
                              {"additional_special_tokens", {"<|im_start|>", "<|im_end|>"}},
                              {"added_tokens_decoder", added},
                              {"chat_template", source}})
                            .dump(2));
  }
  return documents;
}

// A system message, two turns and a pending question, rendered with and without the generation
// prompt (a template may refuse an order with InputError, as llama2 refuses two users in a row).
inline void render_conversations(const ChatTemplate& chat_template, const Tokenizer& tokenizer) {
  const std::vector<ChatMessage> conversation = {{"system", "Be brief."},
                                                 {"user", "Hello <s> there\n"},
                                                 {"assistant", " Hi! \xc3\xa9 "},
                                                 {"user", "And {{ this }}?"}};
  for (const bool add_generation_prompt : {true, false}) {
    const std::string text = chat_template.render(conversation, add_generation_prompt);
    tokenizer.encode_with_special_tokens(text);
  }
  chat_template.render({{"user", "only"}}, true);
}

}  // namespace selm::fuzz_text
