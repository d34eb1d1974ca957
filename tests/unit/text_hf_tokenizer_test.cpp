// HfTokenizer on small tokenizer.json files written by the tests, with ids worked out by hand
// from Hugging Face tokenizers' rules: each normalizer, pre-tokenizer, decoder and post-processor,
// byte-level and SentencePiece-style BPE, added tokens, and every malformed-file error.
#include <algorithm>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "selm/text/hf_tokenizer.hpp"
#include "selm/text/tokenizer_config.hpp"
#include "selm/util/error.hpp"
#include "support/test_support.hpp"
#include "support/tokenizer_documents.hpp"

namespace selm::test {
namespace SELM_UNITY_ID {

using nlohmann::json;
using Ids = std::vector<std::int64_t>;
using Strings = std::vector<std::string>;
using test::tokenizer_json::added_token;
using test::tokenizer_json::bpe_model;
using test::tokenizer_json::byte_character;
using test::tokenizer_json::document;
using test::tokenizer_json::sentencepiece_tokenizer;

// A model without merges whose vocabulary is `words` (ids 0, 1, ...), then the printable ASCII
// characters not among them, then "<unk>". With ignore_merges a text that is a word of the
// vocabulary is one token and anything else falls apart into characters, so the tokens show how
// the text was normalized and split.
json word_model(Strings words) {
  for (char c = ' '; c <= '~'; ++c)
    if (std::find(words.begin(), words.end(), std::string(1, c)) == words.end()) words.emplace_back(1, c);
  words.push_back("<unk>");
  json model = bpe_model(words, json::array());
  model["ignore_merges"] = true;
  model["unk_token"] = "<unk>";
  return model;
}

class HfTokenizerTest : public ::testing::Test {
 protected:
  // Writes `tokenizer` (and tokenizer_config.json when `config` is an object) and loads them.
  std::unique_ptr<HfTokenizer> load(const json& tokenizer, const json& config = nullptr) {
    const fs::path file = dir_ / ("tokenizer" + std::to_string(++files_) + ".json");
    write_text(file, tokenizer.dump());
    TokenizerConfig settings;
    if (config.is_object()) {
      write_text(dir_ / "tokenizer_config.json", config.dump());
      settings = read_tokenizer_config(dir_ / "tokenizer_config.json");
    }
    return HfTokenizer::load(file, settings);
  }

  // The InputError message of loading `tokenizer`, which must name the file.
  std::string load_error(const json& tokenizer) { return load_error_text(tokenizer.dump()); }
  std::string load_error_text(const std::string& text) {
    const fs::path file = dir_ / ("broken" + std::to_string(++files_) + ".json");
    write_text(file, text);
    const std::string message = input_error_of([&] { HfTokenizer::load(file); });
    EXPECT_NE(message.find(file.string()), std::string::npos) << message;
    return message;
  }

  static Strings tokens_of(const HfTokenizer& tokenizer, const Ids& ids) {
    Strings tokens;
    for (const std::int64_t id : ids) tokens.push_back(tokenizer.id_to_piece(id));
    return tokens;
  }
  static Strings encode_tokens(const HfTokenizer& tokenizer, const std::string& text) {
    return tokens_of(tokenizer, tokenizer.encode_with_special_tokens(text));
  }

  // The tokens of `text` through `normalizer`, with word_model(words) and no pre-tokenizer.
  Strings normalized(const json& normalizer, const std::string& text, const Strings& words) {
    json tokenizer = document(word_model(words));
    tokenizer["normalizer"] = normalizer;
    return encode_tokens(*load(tokenizer), text);
  }

  // The tokens of `text` through `pre_tokenizer`, with word_model(words).
  Strings pre_tokenized(const json& pre_tokenizer, const std::string& text, const Strings& words) {
    json tokenizer = document(word_model(words));
    tokenizer["pre_tokenizer"] = pre_tokenizer;
    return encode_tokens(*load(tokenizer), text);
  }

  TempDir dir_;
  int files_ = 0;
};

// --- byte-level BPE --------------------------------------------------------------------------

// Ids 0..255 are the byte characters (so a lone byte b is id b), then merged tokens.
Strings byte_level_vocab() {
  Strings vocab;
  for (int byte = 0; byte < 256; ++byte) vocab.push_back(byte_character(byte));
  for (const char* token : {"he", "ll", "hell", "hello", "Ġw", "or", "Ġwor", "ld", "Ġworld", "'s", "Ã©"})
    vocab.push_back(token);  // 256 ... 266
  return vocab;
}

const char* const kByteLevelMerges[] = {"h e", "l l", "he ll", "hell o", "Ġ w", "o r", "Ġw or", "l d", "Ġwor ld", "' s", "Ã ©"};

json byte_level_tokenizer(bool pair_merges, bool add_prefix_space = false) {
  json merges = json::array();
  for (const std::string merge : kByteLevelMerges) {
    if (pair_merges)
      merges.push_back({merge.substr(0, merge.find(' ')), merge.substr(merge.find(' ') + 1)});
    else
      merges.push_back(merge);
  }
  json tokenizer = document(bpe_model(byte_level_vocab(), merges));
  tokenizer["pre_tokenizer"] = {{"type", "ByteLevel"}, {"add_prefix_space", add_prefix_space}, {"trim_offsets", true},
                                {"use_regex", true}};
  tokenizer["decoder"] = {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", true}, {"use_regex", true}};
  tokenizer["post_processor"] = {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", false}};
  return tokenizer;
}

TEST_F(HfTokenizerTest, ByteLevelBpeAppliesTheMergesByRank) {
  for (const bool pair_merges : {false, true}) {
    SCOPED_TRACE(pair_merges ? "merges as pairs" : "merges as \"a b\" strings");
    const auto tokenizer = load(byte_level_tokenizer(pair_merges));
    // "hello" merges h+e, l+l, he+ll, hell+o; " world" is "Ġworld" after the byte mapping.
    EXPECT_EQ(tokenizer->encode("hello world"), (Ids{259, 264}));
    // GPT-2's regex leaves the first of two spaces alone (\s+(?!\S)).
    EXPECT_EQ(tokenizer->encode("hello  world"), (Ids{259, 32, 264}));
    // é is the bytes C3 A9, the characters "Ã©"; l+l (rank 1) merges before Ã+© (rank 10).
    EXPECT_EQ(tokenizer->encode("héllo"), (Ids{'h', 266, 257, 'o'}));
    // Equal ranks: the leftmost pair first.
    EXPECT_EQ(tokenizer->encode("lll"), (Ids{257, 'l'}));
    EXPECT_EQ(tokenizer->encode("it's"), (Ids{'i', 't', 265}));
    EXPECT_EQ(tokenizer->encode("\n"), (Ids{10}));
    EXPECT_EQ(tokenizer->encode(""), Ids{});
    // Ill-formed UTF-8 is read as U+FFFD, the bytes EF BF BD.
    EXPECT_EQ(tokenizer->encode("\xFF"), (Ids{0xEF, 0xBF, 0xBD}));
  }
}

TEST_F(HfTokenizerTest, ByteLevelDecodeRestoresTheBytes) {
  const auto tokenizer = load(byte_level_tokenizer(false));
  EXPECT_EQ(tokenizer->decode({259, 264}), "hello world");
  EXPECT_EQ(tokenizer->decode({'h', 266, 257, 'o'}), "héllo");
  EXPECT_EQ(tokenizer->decode({0xC3}), "\xEF\xBF\xBD");  // a lone lead byte
  EXPECT_EQ(tokenizer->decode_continuation({264}), " world");
  EXPECT_EQ(tokenizer->decode({}), "");
  EXPECT_EQ(tokenizer->id_to_piece(264), "Ġworld");
  EXPECT_EQ(tokenizer->token_to_id("Ġ"), 32);
  EXPECT_EQ(tokenizer->token_to_id("nope"), std::nullopt);
  EXPECT_EQ(tokenizer->vocab_size(), 267);
  EXPECT_THROW(tokenizer->decode({267}), std::out_of_range);
  EXPECT_THROW(tokenizer->decode({-1}), std::out_of_range);
  EXPECT_THROW(tokenizer->id_to_piece(267), std::out_of_range);
  EXPECT_THROW(tokenizer->is_special(-1), std::out_of_range);
}

TEST_F(HfTokenizerTest, ByteLevelPrefixSpaceIsLeftOutOfContinuations) {
  const auto tokenizer = load(byte_level_tokenizer(false, /*add_prefix_space=*/true));
  // " hello" is Ġ + hello: no merge joins them.
  EXPECT_EQ(tokenizer->encode("hello"), (Ids{32, 259}));
  EXPECT_EQ(tokenizer->encode(" hello"), (Ids{32, 259}));
  EXPECT_EQ(tokenizer->encode_continuation("hello"), (Ids{259}));
  EXPECT_EQ(tokenizer->encode_continuation(" world"), (Ids{264}));
}

TEST_F(HfTokenizerTest, ByteLevelWithoutRegexKeepsThePieceWhole) {
  json tokenizer = byte_level_tokenizer(false);
  tokenizer["pre_tokenizer"]["use_regex"] = false;
  // "hello world" is one word: hello and Ġworld still form, nothing joins them.
  EXPECT_EQ(load(tokenizer)->encode("hello world"), (Ids{259, 264}));
  EXPECT_EQ(load(tokenizer)->encode("it's"), (Ids{'i', 't', 265}));
  // Without the regex a space does not start a new word: "o" and "Ġ" stay apart only because no
  // merge joins them.
  EXPECT_EQ(load(tokenizer)->encode("hello hello"), (Ids{259, 32, 259}));
}

TEST_F(HfTokenizerTest, IgnoreMergesTakesAWholeWordThatIsAToken) {
  Strings vocab = byte_level_vocab();
  vocab.push_back("helo");  // 267: no merge builds it
  json merges = json::array();
  for (const char* merge : kByteLevelMerges) merges.push_back(merge);
  json tokenizer = document(bpe_model(vocab, merges));
  tokenizer["pre_tokenizer"] = {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", false}, {"use_regex", true}};
  EXPECT_EQ(load(tokenizer)->encode("helo"), (Ids{256, 'l', 'o'}));
  tokenizer["model"]["ignore_merges"] = true;
  EXPECT_EQ(load(tokenizer)->encode("helo"), (Ids{267}));
  EXPECT_EQ(load(tokenizer)->encode("hello"), (Ids{259}));
}

TEST_F(HfTokenizerTest, SubwordPrefixAndWordSuffixTakePartInTheMerges) {
  // continuing_subword_prefix: characters after the first carry "##"; "a" + "##b" makes "ab".
  json prefixed = document(bpe_model({"a", "##b", "ab", "##c", "b"}, json::array({"a ##b"})));
  prefixed["model"]["continuing_subword_prefix"] = "##";
  EXPECT_EQ(load(prefixed)->encode("ab"), (Ids{2}));
  EXPECT_EQ(load(prefixed)->encode("abc"), (Ids{2, 3}));
  EXPECT_EQ(load(prefixed)->encode("b"), (Ids{4}));
  // end_of_word_suffix: the last character carries "</w>".
  json suffixed = document(bpe_model({"a", "b</w>", "ab</w>", "b"}, json::array({json::array({"a", "b</w>"})})));
  suffixed["model"]["end_of_word_suffix"] = "</w>";
  EXPECT_EQ(load(suffixed)->encode("ab"), (Ids{2}));
  EXPECT_EQ(load(suffixed)->encode("ba"), Ids{3});  // "a</w>" is unknown and there is no unk token
}

// --- SentencePiece-style BPE (Llama 2's tokenizer.json layout) -------------------------------

constexpr std::int64_t kByteBase = 3;  // id of <0x00>

TEST_F(HfTokenizerTest, SentencePieceStyleEncodesWithPrefixAndByteFallback) {
  const auto tokenizer = load(sentencepiece_tokenizer());
  EXPECT_EQ(tokenizer->encode("hi"), (Ids{263}));
  EXPECT_EQ(tokenizer->encode("hi!"), (Ids{263, 264}));
  // "▁hi▁ü": ü is not a piece, so its bytes C3 BC.
  EXPECT_EQ(tokenizer->encode("hi ü"), (Ids{263, 259, kByteBase + 0xC3, kByteBase + 0xBC}));
  EXPECT_EQ(tokenizer->encode_with_post_processor("hi"), (Ids{1, 263}));
  EXPECT_EQ(tokenizer->post_processor_prefix_ids(), (Ids{1}));
  EXPECT_EQ(tokenizer->post_processor_suffix_ids(), Ids{});
  // Continuations get no "▁" in front; a space of their own still becomes one.
  EXPECT_EQ(tokenizer->encode_continuation("hi"), (Ids{260, 261}));
  EXPECT_EQ(tokenizer->encode_continuation(" hi"), (Ids{263}));
}

TEST_F(HfTokenizerTest, SentencePieceStyleSpecialTokensAndTheirText) {
  const auto tokenizer = load(sentencepiece_tokenizer());
  // Each stretch between added tokens is normalized on its own, so it gets its own "▁".
  EXPECT_EQ(tokenizer->encode_with_special_tokens("<s>hi"), (Ids{1, 263}));
  EXPECT_EQ(tokenizer->encode_with_special_tokens("hi</s>"), (Ids{263, 2}));
  // encode(): "<s>" is text, "▁<s>hi" with <, s and > as bytes.
  EXPECT_EQ(tokenizer->encode("<s>hi"), (Ids{259, kByteBase + '<', kByteBase + 's', kByteBase + '>', 260, 261}));
  EXPECT_TRUE(tokenizer->is_special(1));
  EXPECT_FALSE(tokenizer->is_special(263));
  EXPECT_EQ(tokenizer->unk_id(), 0);  // from model.unk_token: there is no tokenizer_config.json
  EXPECT_EQ(tokenizer->bos_id(), -1);
}

TEST_F(HfTokenizerTest, SentencePieceStyleDecodeUndoesThePrefix) {
  const auto tokenizer = load(sentencepiece_tokenizer());
  const Ids ids = {263, 259, kByteBase + 0xC3, kByteBase + 0xBC};
  EXPECT_EQ(tokenizer->decode(ids), "hi ü");
  EXPECT_EQ(tokenizer->decode_continuation(ids), " hi ü");
  EXPECT_EQ(tokenizer->decode({1, 263}, /*skip_special_tokens=*/false), "<s> hi");
  EXPECT_EQ(tokenizer->decode({1, 263}, /*skip_special_tokens=*/true), "hi");
  // Byte pieces that are not valid UTF-8 become one U+FFFD per byte.
  EXPECT_EQ(tokenizer->decode({kByteBase + 0xE4, kByteBase + 0xB8}), "\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(tokenizer->decode({259, kByteBase + 0xC3}), "\xEF\xBF\xBD");
}

TEST_F(HfTokenizerTest, UnknownCharactersFuseOrStaySeparate) {
  json tokenizer = document(bpe_model({"<unk>", "a", "b", "<0x78>"}, json::array()));
  tokenizer["model"]["unk_token"] = "<unk>";
  tokenizer["model"]["fuse_unk"] = true;
  EXPECT_EQ(load(tokenizer)->encode("axyb"), (Ids{1, 0, 2}));
  EXPECT_EQ(load(tokenizer)->unk_id(), 0);
  tokenizer["model"]["fuse_unk"] = false;
  EXPECT_EQ(load(tokenizer)->encode("axyb"), (Ids{1, 0, 0, 2}));
  // Byte fallback covers x (0x78) but not y, which is unknown.
  tokenizer["model"]["byte_fallback"] = true;
  EXPECT_EQ(load(tokenizer)->encode("axb"), (Ids{1, 3, 2}));
  EXPECT_EQ(load(tokenizer)->encode("ayb"), (Ids{1, 0, 2}));
  // As in Hugging Face, a pending unknown run is only written out at the next vocabulary
  // character or the end, after any byte pieces in between.
  EXPECT_EQ(load(tokenizer)->encode("yx"), (Ids{3, 0}));
  // Without an unknown token unknown characters are dropped.
  tokenizer["model"]["unk_token"] = nullptr;
  tokenizer["model"]["byte_fallback"] = false;
  EXPECT_EQ(load(tokenizer)->encode("axyb"), (Ids{1, 2}));
  EXPECT_EQ(load(tokenizer)->unk_id(), -1);
}

TEST_F(HfTokenizerTest, DropoutIsReadAndNotApplied) {
  json tokenizer = byte_level_tokenizer(false);
  tokenizer["model"]["dropout"] = 0.5;
  const auto loaded = load(tokenizer);
  for (int i = 0; i < 20; ++i) EXPECT_EQ(loaded->encode("hello"), (Ids{259}));
}

// --- Metaspace -------------------------------------------------------------------------------

// ▁ 0, a 1, b 2, ▁a 3, ▁b 4, <unk> 5, a▁ 6; added <x> 7. Merges: a+▁, ▁+a, ▁+b.
json metaspace_tokenizer(json pre_tokenizer) {
  json model = bpe_model({"▁", "a", "b", "▁a", "▁b", "<unk>", "a▁"},
                         json::array({"a ▁", "▁ a", "▁ b"}));
  model["unk_token"] = "<unk>";
  json tokenizer = document(model);
  tokenizer["added_tokens"] = {added_token(7, "<x>", true)};
  tokenizer["pre_tokenizer"] = std::move(pre_tokenizer);
  tokenizer["decoder"] = {{"type", "Metaspace"}, {"replacement", "▁"}, {"prepend_scheme", "always"}, {"split", true}};
  return tokenizer;
}

json metaspace(const char* scheme, bool split = true) {
  return {{"type", "Metaspace"}, {"replacement", "▁"}, {"prepend_scheme", scheme}, {"split", split}};
}

TEST_F(HfTokenizerTest, MetaspaceReplacesSpacesAndSplitsBeforeThem) {
  const auto tokenizer = load(metaspace_tokenizer(metaspace("always")));
  EXPECT_EQ(tokenizer->encode("a b"), (Ids{3, 4}));
  EXPECT_EQ(tokenizer->encode("a  b"), (Ids{3, 0, 4}));  // "▁a", "▁", "▁b"
  EXPECT_EQ(tokenizer->encode_with_special_tokens("<x>a b"), (Ids{7, 3, 4}));
  EXPECT_EQ(tokenizer->encode_continuation("a b"), (Ids{1, 4}));
  // Unsplit, "▁a▁b" is one word and a+▁ (rank 0) wins.
  EXPECT_EQ(load(metaspace_tokenizer(metaspace("always", false)))->encode("a b"), (Ids{0, 6, 2}));
}

TEST_F(HfTokenizerTest, MetaspacePrependSchemes) {
  const auto first = load(metaspace_tokenizer(metaspace("first")));
  EXPECT_EQ(first->encode("a b"), (Ids{3, 4}));
  // Only the stretch where the text starts gets the "▁".
  EXPECT_EQ(first->encode_with_special_tokens("<x>a b"), (Ids{7, 1, 4}));
  EXPECT_EQ(first->encode_with_special_tokens("a b<x>a"), (Ids{3, 4, 7, 1}));
  const auto never = load(metaspace_tokenizer(metaspace("never")));
  EXPECT_EQ(never->encode("a b"), (Ids{1, 4}));
  // Files older than prepend_scheme say add_prefix_space.
  json legacy = {{"type", "Metaspace"}, {"replacement", "▁"}, {"add_prefix_space", false}};
  EXPECT_EQ(load(metaspace_tokenizer(legacy))->encode("a b"), (Ids{1, 4}));
  legacy["add_prefix_space"] = true;
  EXPECT_EQ(load(metaspace_tokenizer(legacy))->encode("a b"), (Ids{3, 4}));
}

TEST_F(HfTokenizerTest, MetaspaceDecoderDropsTheFirstTokensMarks) {
  const auto tokenizer = load(metaspace_tokenizer(metaspace("always")));
  EXPECT_EQ(tokenizer->decode({3, 4}), "a b");
  EXPECT_EQ(tokenizer->decode_continuation({3, 4}), " a b");
  // Hugging Face removes every "▁" of the first token, wherever it is in that token.
  EXPECT_EQ(tokenizer->decode({6, 4}), "a b");
  EXPECT_EQ(tokenizer->decode({0, 3}), " a");
  json never = metaspace_tokenizer(metaspace("never"));
  never["decoder"]["prepend_scheme"] = "never";
  EXPECT_EQ(load(never)->decode({3, 4}), " a b");
}

// --- normalizers -----------------------------------------------------------------------------

TEST_F(HfTokenizerTest, UnicodeNormalForms) {
  EXPECT_EQ(normalized({{"type", "NFC"}}, "e\u0301", {"é"}), (Strings{"é"}));
  EXPECT_EQ(normalized({{"type", "NFD"}}, "é", {"\u0301"}), (Strings{"e", "\u0301"}));
  EXPECT_EQ(normalized({{"type", "NFKC"}}, "ﬁ", {"fi"}), (Strings{"fi"}));
  EXPECT_EQ(normalized({{"type", "NFKC"}}, "①", {}), (Strings{"1"}));
  EXPECT_EQ(normalized({{"type", "NFKD"}}, "ǅ", {"\u030C"}), (Strings{"D", "z", "\u030C"}));
  // U+212B ANGSTROM SIGN is canonically U+00C5.
  EXPECT_EQ(normalized({{"type", "NFC"}}, "\u212B", {"\u00C5"}), (Strings{"\u00C5"}));
}

TEST_F(HfTokenizerTest, LowercaseStripAndAccents) {
  EXPECT_EQ(normalized({{"type", "Lowercase"}}, "HeLLo İ", {"hello i\u0307"}), (Strings{"hello i\u0307"}));
  EXPECT_EQ(normalized({{"type", "Lowercase"}}, "ΣΑΣ", {"σασ"}), (Strings{"σασ"}));  // no final-sigma rule
  const json strip = {{"type", "Strip"}, {"strip_left", true}, {"strip_right", true}};
  EXPECT_EQ(normalized(strip, " \t hi\u3000 ", {"hi"}), (Strings{"hi"}));
  const json strip_left = {{"type", "Strip"}, {"strip_left", true}, {"strip_right", false}};
  EXPECT_EQ(normalized(strip_left, "  hi ", {"hi"}), (Strings{"h", "i", " "}));
  const json accents = {{"type", "Sequence"}, {"normalizers", {{{"type", "NFD"}}, {{"type", "StripAccents"}}}}};
  EXPECT_EQ(normalized(accents, "café", {"cafe"}), (Strings{"cafe"}));
}

TEST_F(HfTokenizerTest, ReplacePrependAndSequences) {
  const json replace = {{"type", "Replace"}, {"pattern", {{"String", "-"}}}, {"content", "+"}};
  EXPECT_EQ(normalized(replace, "a-b", {"a+b"}), (Strings{"a+b"}));
  const json regex = {{"type", "Replace"}, {"pattern", {{"Regex", "\\s+"}}}, {"content", " "}};
  EXPECT_EQ(normalized(regex, "a \t\n b", {"a b"}), (Strings{"a b"}));
  const json prepend = {{"type", "Prepend"}, {"prepend", "▁"}};
  EXPECT_EQ(normalized(prepend, "hi", {"▁hi"}), (Strings{"▁hi"}));
  EXPECT_EQ(normalized(prepend, "", {"▁hi"}), Strings{});  // nothing to mark
  const json nested = {{"type", "Sequence"},
                       {"normalizers",
                        {{{"type", "Sequence"}, {"normalizers", {{{"type", "Lowercase"}}}}},
                         {{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", "▁"}}}}};
  EXPECT_EQ(normalized(nested, "Hi There", {"hi▁there"}), (Strings{"hi▁there"}));
  EXPECT_EQ(normalized({{"type", "Sequence"}, {"normalizers", json::array()}}, "Ab", {"Ab"}), (Strings{"Ab"}));
  EXPECT_EQ(normalized(nullptr, "Ab", {"Ab"}), (Strings{"Ab"}));

  json tokenizer = document(word_model({"▁hi"}));
  tokenizer["normalizer"] = prepend;
  EXPECT_EQ(encode_tokens(*load(tokenizer), "hi"), (Strings{"▁hi"}));
  const auto loaded = load(tokenizer);
  EXPECT_EQ(tokens_of(*loaded, loaded->encode_continuation("hi")), (Strings{"h", "i"}));
}

// --- pre-tokenizers --------------------------------------------------------------------------

json split(const char* behavior, json pattern = {{"String", "-"}}, bool invert = false) {
  return {{"type", "Split"}, {"pattern", std::move(pattern)}, {"behavior", behavior}, {"invert", invert}};
}

TEST_F(HfTokenizerTest, SplitBehaviors) {
  const Strings words = {"a-", "b-", "-b", "-c", "--"};
  EXPECT_EQ(pre_tokenized(split("Isolated"), "a-b--c", words), (Strings{"a", "-", "b", "-", "-", "c"}));
  EXPECT_EQ(pre_tokenized(split("Removed"), "a-b--c", words), (Strings{"a", "b", "c"}));
  // A match joins the part before it unless that part is a match too.
  EXPECT_EQ(pre_tokenized(split("MergedWithPrevious"), "a-b--c", words), (Strings{"a-", "b-", "-", "c"}));
  EXPECT_EQ(pre_tokenized(split("MergedWithNext"), "a-b--c", words), (Strings{"a", "-b", "-", "-c"}));
  EXPECT_EQ(pre_tokenized(split("Contiguous"), "a-b--c", words), (Strings{"a", "-", "b", "--", "c"}));
  // invert: the pattern marks what to keep.
  const json letters = {{"Regex", "[a-z]+"}};
  EXPECT_EQ(pre_tokenized(split("Removed", letters, true), "a-b--c", words), (Strings{"a", "b", "c"}));
  EXPECT_EQ(pre_tokenized(split("Isolated", letters, true), "a-b--c", words), (Strings{"a", "-", "b", "--", "c"}));
}

TEST_F(HfTokenizerTest, SplitRegexesFollowOnigurumaClasses) {
  // U+180E is not White_Space (PCRE2's own \s would count it).
  EXPECT_EQ(pre_tokenized(split("Removed", {{"Regex", "\\s+"}}), "a\u180Eb c\u3000d", {"a\u180Eb"}),
            (Strings{"a\u180Eb", "c", "d"}));
  EXPECT_EQ(pre_tokenized(split("Isolated", {{"Regex", "(?i:'s|'t)"}}), "IT'S", {"IT", "'S"}), (Strings{"IT", "'S"}));
  // ^ and $ are line anchors.
  EXPECT_EQ(pre_tokenized(split("Isolated", {{"Regex", "^x"}}), "x\nx", {"\n"}), (Strings{"x", "\n", "x"}));
  // Oniguruma's \h is a hexadecimal digit and \uHHHH a code point.
  EXPECT_EQ(pre_tokenized(split("Removed", {{"Regex", "\\h"}}), "xAfy", {"xAfy"}), (Strings{"x", "y"}));
  EXPECT_EQ(pre_tokenized(split("Removed", {{"Regex", "\\u00e9"}}), "aéb", {}), (Strings{"a", "b"}));
  // An empty match right after a match is skipped, as the onig crate does.
  EXPECT_EQ(pre_tokenized(split("Isolated", {{"Regex", "x*"}}), "xab", {"xab"}), (Strings{"x", "a", "b"}));
}

TEST_F(HfTokenizerTest, DigitsWhitespaceAndPunctuation) {
  const json digits = {{"type", "Digits"}, {"individual_digits", false}};
  EXPECT_EQ(pre_tokenized(digits, "a123b", {"123"}), (Strings{"a", "123", "b"}));
  EXPECT_EQ(pre_tokenized(digits, "x٣٤", {"٣٤"}), (Strings{"x", "٣٤"}));  // Unicode digits count
  const json single = {{"type", "Digits"}, {"individual_digits", true}};
  EXPECT_EQ(pre_tokenized(single, "a123b", {"123"}), (Strings{"a", "1", "2", "3", "b"}));
  EXPECT_EQ(pre_tokenized({{"type", "Whitespace"}}, "hi, there!!", {"hi", "there", "!!"}),
            (Strings{"hi", ",", "there", "!!"}));
  EXPECT_EQ(pre_tokenized({{"type", "WhitespaceSplit"}}, "a  b\tc\u3000d", {}), (Strings{"a", "b", "c", "d"}));
  EXPECT_EQ(pre_tokenized({{"type", "Punctuation"}, {"behavior", "Isolated"}}, "ab,c+d", {"ab"}),
            (Strings{"ab", ",", "c", "+", "d"}));
  EXPECT_EQ(pre_tokenized({{"type", "BertPreTokenizer"}}, "hi, you", {"hi", "you"}), (Strings{"hi", ",", "you"}));
  const json sequence = {{"type", "Sequence"},
                         {"pretokenizers", {split("Removed", {{"String", " "}}), single}}};
  EXPECT_EQ(pre_tokenized(sequence, "ab 12", {"ab"}), (Strings{"ab", "1", "2"}));
}

// --- added tokens ----------------------------------------------------------------------------

// word_model({"hi", "there"}) plus added tokens from id 200 on.
json with_added_tokens(std::vector<json> tokens) {
  json tokenizer = document(word_model({"hi", "there"}));
  tokenizer["added_tokens"] = std::move(tokens);
  return tokenizer;
}

TEST_F(HfTokenizerTest, AddedTokensMatchLeftmostThenLongest) {
  const auto tokenizer = load(with_added_tokens({added_token(200, "ab", false), added_token(201, "abc", false),
                                                 added_token(202, "bcd", false)}));
  EXPECT_EQ(tokenizer->encode_with_special_tokens("zabcd"), (Ids{tokenizer->token_to_id("z").value(), 201, 'd' - ' ' + 2}));
  EXPECT_EQ(encode_tokens(*tokenizer, "zabcd"), (Strings{"z", "abc", "d"}));
  EXPECT_EQ(encode_tokens(*tokenizer, "zabd"), (Strings{"z", "ab", "d"}));
  EXPECT_EQ(encode_tokens(*tokenizer, "zbcd"), (Strings{"z", "bcd"}));
}

TEST_F(HfTokenizerTest, AddedTokensStripWhitespaceOnTheirSides) {
  const auto tokenizer = load(with_added_tokens({added_token(200, "<l>", true, {{"lstrip", true}}),
                                                 added_token(201, "<r>", true, {{"rstrip", true}}),
                                                 added_token(202, "<n>", true)}));
  EXPECT_EQ(encode_tokens(*tokenizer, "hi  <l> there"), (Strings{"hi", "<l>", " ", "t", "h", "e", "r", "e"}));
  EXPECT_EQ(encode_tokens(*tokenizer, "hi <r>\n there"), (Strings{"h", "i", " ", "<r>", "there"}));
  EXPECT_EQ(encode_tokens(*tokenizer, "hi <n> there"), (Strings{"h", "i", " ", "<n>", " ", "t", "h", "e", "r", "e"}));
}

TEST_F(HfTokenizerTest, SingleWordTokensNeedNoWordAroundThem) {
  const auto tokenizer = load(with_added_tokens({added_token(200, "zz", false, {{"single_word", true}})}));
  EXPECT_EQ(tokenizer->encode_with_special_tokens("zz"), (Ids{200}));
  EXPECT_EQ(encode_tokens(*tokenizer, "hi zz."), (Strings{"h", "i", " ", "zz", "."}));
  EXPECT_EQ(encode_tokens(*tokenizer, "zzy"), (Strings{"z", "z", "y"}));
  EXPECT_EQ(encode_tokens(*tokenizer, "_zz"), (Strings{"_", "z", "z"}));
  EXPECT_EQ(encode_tokens(*tokenizer, "ézz"), (Strings{"<unk>", "z", "z"}));  // é is a letter
}

TEST_F(HfTokenizerTest, NormalizedTokensMatchTheNormalizedText) {
  json tokenizer = with_added_tokens({added_token(200, "<HI>", false, {{"normalized", true}}),
                                      added_token(201, "<UP>", false, {{"normalized", false}})});
  tokenizer["normalizer"] = {{"type", "Lowercase"}};
  const auto loaded = load(tokenizer);
  EXPECT_EQ(loaded->encode_with_special_tokens("<HI>"), (Ids{200}));
  EXPECT_EQ(loaded->encode_with_special_tokens("<hi>"), (Ids{200}));  // lowercased, then matched
  EXPECT_EQ(loaded->encode_with_special_tokens("<UP>"), (Ids{201}));
  EXPECT_EQ(encode_tokens(*loaded, "<up>"), (Strings{"<", "u", "p", ">"}));
  // A normalized token decodes as its normalized form; id_to_piece gives the written one.
  EXPECT_EQ(loaded->decode({200}), "<hi>");
  EXPECT_EQ(loaded->id_to_piece(200), "<HI>");
}

TEST_F(HfTokenizerTest, EncodeTreatsOnlySpecialTokensAsText) {
  const auto tokenizer = load(with_added_tokens({added_token(200, "<s>", true), added_token(201, "<t>", false)}));
  EXPECT_EQ(tokenizer->encode_with_special_tokens("<s>hi<t>"), (Ids{200, 0, 201}));
  EXPECT_EQ(tokens_of(*tokenizer, tokenizer->encode("<s>hi<t>")), (Strings{"<", "s", ">", "h", "i", "<t>"}));
  EXPECT_EQ(tokens_of(*tokenizer, tokenizer->encode_continuation("<s>")), (Strings{"<", "s", ">"}));
  // No decoder: Hugging Face joins the tokens with spaces.
  EXPECT_EQ(tokenizer->decode({200, 0, 201}, /*skip_special_tokens=*/false), "<s> hi <t>");
  EXPECT_EQ(tokenizer->decode({200, 0, 201}, /*skip_special_tokens=*/true), "hi <t>");
  EXPECT_TRUE(tokenizer->is_special(200));
  EXPECT_FALSE(tokenizer->is_special(201));
  EXPECT_EQ(tokenizer->token_to_id("<t>"), 201);
  EXPECT_EQ(tokenizer->vocab_size(), 202);
}

TEST_F(HfTokenizerTest, ThousandsOfAddedTokens) {
  std::vector<json> tokens;
  for (int i = 0; i < 7000; ++i) tokens.push_back(added_token(200 + i, "<unused" + std::to_string(i) + ">", false));
  const auto tokenizer = load(with_added_tokens(tokens));
  // "<unused1234" lacks its ">": plain text, one character at a time.
  EXPECT_EQ(tokenizer->encode_with_special_tokens("<unused12>hi<unused6999><unused1234"),
            (Ids{212, 0, 7199, '<' - ' ' + 2, 'u' - ' ' + 2, 'n' - ' ' + 2, 'u' - ' ' + 2, 's' - ' ' + 2, 'e' - ' ' + 2,
                 'd' - ' ' + 2, '1' - ' ' + 2, '2' - ' ' + 2, '3' - ' ' + 2, '4' - ' ' + 2}));
}

TEST_F(HfTokenizerTest, ConfigNamesSpecialTokensAndAddsMissingOnes) {
  const json config = {
      {"bos_token", "<s>"},
      {"eos_token", {{"__type", "AddedToken"}, {"content", "</s>"}, {"lstrip", false}}},
      {"pad_token", nullptr},
      {"added_tokens_decoder",
       {{"200", {{"content", "<s>"}, {"special", true}}},
        {"201", {{"content", "</s>"}, {"special", true}}},
        {"300", {{"content", "<extra>"}, {"special", true}, {"normalized", false}}}}}};
  const auto tokenizer = load(with_added_tokens({added_token(200, "<s>", true), added_token(201, "</s>", true)}), config);
  EXPECT_EQ(tokenizer->bos_id(), 200);
  EXPECT_EQ(tokenizer->eos_id(), 201);
  EXPECT_EQ(tokenizer->pad_id(), std::nullopt);
  EXPECT_EQ(tokenizer->unk_id(), tokenizer->token_to_id("<unk>").value());  // model.unk_token
  EXPECT_EQ(tokenizer->encode_with_special_tokens("hi<extra>"), (Ids{0, 300}));
  EXPECT_TRUE(tokenizer->is_special(300));
  EXPECT_EQ(tokenizer->vocab_size(), 301);
  // Ids between the vocabulary and the added tokens name nothing.
  EXPECT_EQ(tokenizer->id_to_piece(250), "");
  EXPECT_EQ(tokenizer->decode({0, 250}), "hi");
  EXPECT_EQ(tokenizer->config().bos_token, "<s>");
}

TEST_F(HfTokenizerTest, CleanUpTokenizationSpacesWhenTheConfigAsks) {
  json tokenizer = document(word_model({"hi", "there", "'s"}));
  const Ids ids = {0, '.' - ' ' + 3, 1, 2};  // hi . there 's
  EXPECT_EQ(load(tokenizer)->decode(ids), "hi . there 's");
  EXPECT_EQ(load(tokenizer, {{"clean_up_tokenization_spaces", true}})->decode(ids), "hi. there's");
}

// --- decoders --------------------------------------------------------------------------------

TEST_F(HfTokenizerTest, StripFuseReplaceAndBpeDecoders) {
  json tokenizer = document(word_model({"  hi  ", "hel", "lo</w>", "world</w>", "a_b"}));
  tokenizer["decoder"] = {{"type", "Strip"}, {"content", " "}, {"start", 2}, {"stop", 1}};
  EXPECT_EQ(load(tokenizer)->decode({0}), "hi ");
  EXPECT_EQ(load(tokenizer)->decode_continuation({0}), "  hi ");
  tokenizer["decoder"] = {{"type", "BPEDecoder"}, {"suffix", "</w>"}};
  EXPECT_EQ(load(tokenizer)->decode({1, 2, 3}), "hello world");
  tokenizer["decoder"] = {{"type", "Sequence"},
                          {"decoders",
                           {{{"type", "Replace"}, {"pattern", {{"Regex", "_+"}}}, {"content", " "}},
                            {{"type", "Fuse"}}}}};
  EXPECT_EQ(load(tokenizer)->decode({4, 1}), "a bhel");
}

// --- post-processors -------------------------------------------------------------------------

TEST_F(HfTokenizerTest, PostProcessorsWrapTheSequence) {
  json tokenizer = with_added_tokens({added_token(200, "<s>", true), added_token(201, "</s>", true)});
  tokenizer["post_processor"] = {
      {"type", "TemplateProcessing"},
      {"single", "<s> $A </s>"},
      {"pair", "<s> $A </s> $B:1 </s>:1"},
      {"special_tokens",
       {{"<s>", {{"id", "<s>"}, {"ids", {200}}, {"tokens", {"<s>"}}}},
        {"</s>", {{"id", "</s>"}, {"ids", {201}}, {"tokens", {"</s>"}}}}}}};
  EXPECT_EQ(load(tokenizer)->encode_with_post_processor("hi"), (Ids{200, 0, 201}));
  EXPECT_EQ(load(tokenizer)->post_processor_suffix_ids(), (Ids{201}));
  tokenizer["post_processor"] = {{"type", "RobertaProcessing"}, {"cls", {"<s>", 200}}, {"sep", {"</s>", 201}},
                                 {"trim_offsets", true}, {"add_prefix_space", false}};
  EXPECT_EQ(load(tokenizer)->encode_with_post_processor("hi"), (Ids{200, 0, 201}));
  tokenizer["post_processor"] = {
      {"type", "Sequence"},
      {"processors", {{{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", false}},
                      {{"type", "BertProcessing"}, {"cls", {"<s>", 200}}, {"sep", {"</s>", 201}}}}}};
  EXPECT_EQ(load(tokenizer)->encode_with_post_processor("there"), (Ids{200, 1, 201}));
  // encode_with_special_tokens never runs the post-processor.
  EXPECT_EQ(load(tokenizer)->encode_with_special_tokens("there"), (Ids{1}));
}

TEST_F(HfTokenizerTest, EncodingIsSafeFromSeveralThreads) {
  const auto tokenizer = load(byte_level_tokenizer(false));
  std::string text;
  for (int i = 0; i < 300; ++i) text += "hello world héllo it's w" + std::to_string(i % 37) + " ";
  const Ids expected = tokenizer->encode(text);
  std::vector<Ids> results(4);
  std::vector<std::thread> threads;
  for (std::size_t t = 0; t < results.size(); ++t)
    threads.emplace_back([&, t] {
      for (int round = 0; round < 5; ++round) results[t] = tokenizer->encode(text);
    });
  for (std::thread& thread : threads) thread.join();
  for (const Ids& result : results) EXPECT_EQ(result, expected);
}

// --- malformed files -------------------------------------------------------------------------

TEST_F(HfTokenizerTest, MalformedFilesNameTheKey) {
  EXPECT_NE(load_error_text("{\"model\": ").find("invalid JSON"), std::string::npos);
  EXPECT_NE(load_error_text("[1, 2]").find("must be a JSON object"), std::string::npos);

  json tokenizer = document(word_model({}));
  tokenizer.erase("model");
  EXPECT_NE(load_error(tokenizer).find("model: is missing"), std::string::npos);

  for (const char* type : {"WordPiece", "Unigram", "WordLevel"}) {
    json other = byte_level_tokenizer(false);
    other["model"]["type"] = type;
    const std::string message = load_error(other);
    EXPECT_NE(message.find("model.type"), std::string::npos) << message;
    EXPECT_NE(message.find(type), std::string::npos) << message;
  }
}

TEST_F(HfTokenizerTest, UnsupportedComponentsNameTheirType) {
  const auto error_with = [&](const char* key, const json& component) {
    json tokenizer = byte_level_tokenizer(false);
    tokenizer[key] = component;
    return load_error(tokenizer);
  };
  EXPECT_NE(error_with("normalizer", {{"type", "Precompiled"}}).find("normalizer.type: normalizer \"Precompiled\""),
            std::string::npos);
  EXPECT_NE(error_with("normalizer", {{"type", "Sequence"}, {"normalizers", {{{"type", "NFC"}}, {{"type", "BertNormalizer"}}}}})
                .find("normalizer.normalizers[1].type"),
            std::string::npos);
  EXPECT_NE(error_with("pre_tokenizer", {{"type", "UnicodeScripts"}}).find("pre_tokenizer.type"), std::string::npos);
  EXPECT_NE(error_with("pre_tokenizer", {{"type", "Sequence"}, {"pretokenizers", {{{"type", "CharDelimiterSplit"}}}}})
                .find("pre_tokenizer.pretokenizers[0].type"),
            std::string::npos);
  EXPECT_NE(error_with("decoder", {{"type", "WordPiece"}}).find("decoder.type: decoder \"WordPiece\""), std::string::npos);
  EXPECT_NE(error_with("decoder", {{"type", "CTC"}}).find("decoder.type"), std::string::npos);
  EXPECT_NE(error_with("post_processor", {{"type", "Magic"}}).find("post_processor.type"), std::string::npos);
  EXPECT_NE(error_with("pre_tokenizer", split("Sideways")).find("pre_tokenizer.behavior"), std::string::npos);
  EXPECT_NE(error_with("pre_tokenizer", {{"type", "Split"}, {"pattern", {{"Glob", "*"}}}, {"behavior", "Isolated"}})
                .find("pre_tokenizer.pattern"),
            std::string::npos);
  EXPECT_NE(error_with("pre_tokenizer", {{"type", "Metaspace"}, {"replacement", "__"}}).find("pre_tokenizer.replacement"),
            std::string::npos);
  const std::string regex = error_with("pre_tokenizer", split("Isolated", {{"Regex", "a(b"}}));
  EXPECT_NE(regex.find("pre_tokenizer.pattern.Regex: invalid regular expression \"a(b\" at offset 3"), std::string::npos)
      << regex;
  EXPECT_NE(regex.find("missing closing parenthesis"), std::string::npos) << regex;
  const json processor = {{"type", "TemplateProcessing"},
                          {"single", {{{"SpecialToken", {{"id", "<bos>"}, {"type_id", 0}}}}, {{"Sequence", {{"id", "A"}}}}}},
                          {"special_tokens", json::object()}};
  EXPECT_NE(error_with("post_processor", processor).find("post_processor.single[0].SpecialToken"), std::string::npos);
  json pair_in_single = processor;
  pair_in_single["single"] = "$A $B";
  EXPECT_NE(error_with("post_processor", pair_in_single).find("post_processor.single"), std::string::npos);
}

TEST_F(HfTokenizerTest, BadMergesAndVocabularies) {
  const auto error_with_merges = [&](json merges) {
    json tokenizer = byte_level_tokenizer(false);
    tokenizer["model"]["merges"] = std::move(merges);
    return load_error(tokenizer);
  };
  EXPECT_NE(error_with_merges({"h e", "h q!"}).find("model.merges[1]: \"q!\" is not in model.vocab"), std::string::npos);
  EXPECT_NE(error_with_merges({"he"}).find("model.merges[0]: must be \"LEFT RIGHT\""), std::string::npos);
  EXPECT_NE(error_with_merges({"h e l"}).find("model.merges[0]"), std::string::npos);
  EXPECT_NE(error_with_merges({"h e", 5}).find("model.merges[1]: must be a string"), std::string::npos);
  EXPECT_NE(error_with_merges({json::array({"h"})}).find("model.merges[0]"), std::string::npos);
  EXPECT_NE(error_with_merges({"x y"}).find("model.merges[0]: the merge of \"x\" and \"y\", \"xy\", is not in model.vocab"),
            std::string::npos);
  EXPECT_NE(error_with_merges(json::object()).find("model.merges: must be a JSON array"), std::string::npos);

  json duplicate = document(bpe_model({"a", "b"}, json::array()));
  duplicate["model"]["vocab"]["b"] = 0;
  EXPECT_NE(load_error(duplicate).find("model.vocab: id 0 is used by both"), std::string::npos);
  json negative = document(bpe_model({"a"}, json::array()));
  negative["model"]["vocab"]["a"] = -3;
  EXPECT_NE(load_error(negative).find("model.vocab: \"a\" must map to a non-negative integer id"), std::string::npos);
  json unknown_unk = document(bpe_model({"a"}, json::array()));
  unknown_unk["model"]["unk_token"] = "<unk>";
  EXPECT_NE(load_error(unknown_unk).find("model.unk_token: \"<unk>\" is not in model.vocab"), std::string::npos);
  json dropout = document(bpe_model({"a"}, json::array()));
  dropout["model"]["dropout"] = 2.0;
  EXPECT_NE(load_error(dropout).find("model.dropout"), std::string::npos);
}

TEST_F(HfTokenizerTest, BadAddedTokens) {
  json clash = document(bpe_model({"a", "b"}, json::array()));
  clash["added_tokens"] = {added_token(1, "<x>", true)};
  EXPECT_NE(load_error(clash).find("added_tokens[0]: id 1 is \"b\" in model.vocab, not \"<x>\""), std::string::npos);
  json moved = document(bpe_model({"a", "b"}, json::array()));
  moved["added_tokens"] = {added_token(5, "a", true)};
  EXPECT_NE(load_error(moved).find("added_tokens[0]: \"a\" has id 0 in model.vocab"), std::string::npos);
  json twice = document(bpe_model({"a"}, json::array()));
  twice["added_tokens"] = {added_token(5, "<x>", true), added_token(5, "<y>", true)};
  EXPECT_NE(load_error(twice).find("added_tokens[1]: id 5 is used by another added token"), std::string::npos);
  json no_id = document(bpe_model({"a"}, json::array()));
  no_id["added_tokens"] = {{{"content", "<x>"}}};
  EXPECT_NE(load_error(no_id).find("added_tokens[0].id"), std::string::npos);
}

// Regressions found by fuzzing: nlohmann::json refuses 1e309 with out_of_range rather than
// parse_error, which escaped as exit 1; nesting a million deep overflowed the stack later (copies
// and messages recurse per level). Found by review: one vocabulary id of 2^31-1 sized a 64 GB table.
TEST_F(HfTokenizerTest, HostileFilesAreInputErrors) {
  json huge_number = byte_level_tokenizer(false);
  huge_number["model"]["dropout"] = "HUGE";
  std::string text = huge_number.dump();
  text.replace(text.find("\"HUGE\""), 6, "1e309");
  EXPECT_NE(load_error_text(text).find("invalid JSON: a number is out of range"), std::string::npos);
  const std::string deep = load_error_text("{\"normalizer\": " + std::string(1'000'000, '[') + "}");
  EXPECT_NE(deep.find("JSON nested deeper than 512 levels"), std::string::npos) << deep;
  json sparse = document(bpe_model({"a", "b"}, json::array()));
  sparse["model"]["vocab"]["b"] = 2147483647;
  const std::string message = load_error(sparse);
  EXPECT_NE(message.find("model.vocab: ids up to 2147483647 for 2 tokens leave more than 1048576 ids without a token"),
            std::string::npos) << message;
  // Gaps that real vocabularies leave (ids kept for added tokens) still load.
  json gap = document(bpe_model({"a", "b"}, json::array()));
  gap["model"]["vocab"]["b"] = 1000;
  EXPECT_EQ(load(gap)->vocab_size(), 1001);

  const fs::path config = dir_ / "tokenizer_config.json";
  write_text(config, R"({"model_max_length": 1e309})");
  EXPECT_EQ(input_error_of([&] { read_tokenizer_config(config); }),
            config.string() + ": invalid JSON: a number is out of range");
  write_text(config, "{\"chat_template\": " + std::string(1'000'000, '{'));
  EXPECT_NE(input_error_of([&] { read_tokenizer_config(config); }).find("JSON nested deeper than 512 levels"),
            std::string::npos);
}

TEST_F(HfTokenizerTest, MissingFileIsAnInputError) {
  const fs::path missing = dir_ / "absent" / "tokenizer.json";
  const std::string message = input_error_of([&] { HfTokenizer::load(missing); });
  EXPECT_NE(message.find(missing.string()), std::string::npos) << message;
}

}  // namespace
}  // namespace selm::test
