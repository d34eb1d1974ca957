// Small tokenizer.json documents built in code, shared by the tokenizer's unit tests and its fuzz
// harnesses: the document around a model, a BPE model, added tokens, GPT-2's byte alphabet and
// a SentencePiece-style BPE (Llama 2's layout).
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace selm::test::tokenizer_json {

using nlohmann::json;
using Strings = std::vector<std::string>;

// A tokenizer.json around `model`; the components are null until a test sets them.
inline json document(json model) {
  return {{"version", "1.0"},        {"truncation", nullptr},  {"padding", nullptr},
          {"added_tokens", json::array()}, {"normalizer", nullptr}, {"pre_tokenizer", nullptr},
          {"post_processor", nullptr}, {"decoder", nullptr},   {"model", std::move(model)}};
}

inline json bpe_model(const Strings& vocab, json merges) {
  json ids = json::object();
  for (std::size_t i = 0; i < vocab.size(); ++i) ids[vocab[i]] = i;
  return {{"type", "BPE"},
          {"dropout", nullptr},
          {"unk_token", nullptr},
          {"continuing_subword_prefix", nullptr},
          {"end_of_word_suffix", nullptr},
          {"fuse_unk", false},
          {"byte_fallback", false},
          {"ignore_merges", false},
          {"vocab", ids},
          {"merges", std::move(merges)}};
}

inline json added_token(std::int64_t id, const std::string& content, bool special, json flags = json::object()) {
  json token = {{"id", id},       {"content", content}, {"single_word", false}, {"lstrip", false},
                {"rstrip", false}, {"normalized", !special}, {"special", special}};
  for (const auto& [key, value] : flags.items()) token[key] = value;
  return token;
}

// GPT-2's byte alphabet, written out independently of the implementation: printable Latin-1
// bytes stand for themselves, the other 68 bytes for U+0100, U+0101, ... in byte order.
inline std::string byte_character(int byte) {
  const auto self = [](int b) { return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF); };
  int code_point = byte;
  if (!self(byte)) {
    code_point = 0x100;
    for (int b = 0; b < byte; ++b)
      if (!self(b)) ++code_point;
  }
  std::string out;
  if (code_point < 0x80) {
    out.push_back(static_cast<char>(code_point));
  } else {
    out.push_back(static_cast<char>(0xC0 | (code_point >> 6)));
    out.push_back(static_cast<char>(0x80 | (code_point & 0x3F)));
  }
  return out;
}

// <unk> 0, <s> 1, </s> 2, <0x00>..<0xFF> 3..258, then ▁ 259, h 260, i 261, ▁h 262, ▁hi 263, ! 264.
inline json sentencepiece_tokenizer() {
  Strings vocab = {"<unk>", "<s>", "</s>"};
  static const char* const kHex = "0123456789ABCDEF";
  for (int byte = 0; byte < 256; ++byte) vocab.push_back(std::string("<0x") + kHex[byte >> 4] + kHex[byte & 15] + ">");
  for (const char* token : {"▁", "h", "i", "▁h", "▁hi", "!"}) vocab.push_back(token);
  json model = bpe_model(vocab, json::array({json::array({"▁", "h"}), json::array({"▁h", "i"})}));
  model["unk_token"] = "<unk>";
  model["fuse_unk"] = true;
  model["byte_fallback"] = true;
  json tokenizer = document(model);
  tokenizer["added_tokens"] = {added_token(0, "<unk>", true), added_token(1, "<s>", true), added_token(2, "</s>", true)};
  tokenizer["normalizer"] = {{"type", "Sequence"},
                             {"normalizers",
                              {{{"type", "Prepend"}, {"prepend", "▁"}},
                               {{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", "▁"}}}}};
  tokenizer["decoder"] = {{"type", "Sequence"},
                          {"decoders",
                           {{{"type", "Replace"}, {"pattern", {{"String", "▁"}}}, {"content", " "}},
                            {{"type", "ByteFallback"}},
                            {{"type", "Fuse"}},
                            {{"type", "Strip"}, {"content", " "}, {"start", 1}, {"stop", 0}}}}};
  tokenizer["post_processor"] = {
      {"type", "TemplateProcessing"},
      {"single", {{{"SpecialToken", {{"id", "<s>"}, {"type_id", 0}}}}, {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}}},
      {"pair", json::array()},
      {"special_tokens", {{"<s>", {{"id", "<s>"}, {"ids", {1}}, {"tokens", {"<s>"}}}}}}};
  return tokenizer;
}

}  // namespace selm::test::tokenizer_json
