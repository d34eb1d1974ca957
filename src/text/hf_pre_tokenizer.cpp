#include "hf_pre_tokenizer.hpp"

#include "hf_byte_level.hpp"
#include "hf_json.hpp"
#include "hf_unicode.hpp"

namespace selm::hf {
namespace {

// GPT-2's pre-tokenization regex, which ByteLevel applies when use_regex is true.
constexpr const char* kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

// Applies `split` to every piece, collecting the parts.
template <class SplitOne>
void split_each(std::vector<Piece>& pieces, SplitOne split) {
  std::vector<Piece> parts;
  parts.reserve(pieces.size() * 2);
  std::vector<Stretch> stretches;
  for (const Piece& piece : pieces) {
    stretches.clear();
    split(piece, stretches, parts);
  }
  pieces = std::move(parts);
}

class Split final : public PreTokenizer {
 public:
  explicit Split(const JsonNode& node)
      : pattern_(node.at("pattern")),
        behavior_(parse_split_behavior(node.at("behavior"))),
        invert_(node.bool_or("invert", false)) {}

  void pre_tokenize(std::vector<Piece>& pieces, bool) const override {
    split_each(pieces, [&](const Piece& piece, std::vector<Stretch>& stretches, std::vector<Piece>& out) {
      pattern_.find_matches(piece.text, stretches);
      split_piece(piece, stretches, behavior_, invert_, out);
    });
  }

 private:
  Pattern pattern_;
  SplitBehavior behavior_;
  bool invert_;
};

class ByteLevel final : public PreTokenizer {
 public:
  explicit ByteLevel(const JsonNode& node)
      : add_prefix_space_(node.bool_or("add_prefix_space", false)), use_regex_(node.bool_or("use_regex", true)) {
    if (use_regex_) regex_ = std::make_unique<Regex>(kGpt2Pattern, node);
  }

  void pre_tokenize(std::vector<Piece>& pieces, bool continuation) const override {
    if (add_prefix_space_ && !continuation)
      for (Piece& piece : pieces)
        if (!piece.text.empty() && piece.text.front() != ' ') piece.text.insert(0, 1, ' ');
    if (use_regex_) {
      split_each(pieces, [&](const Piece& piece, std::vector<Stretch>& stretches, std::vector<Piece>& out) {
        std::vector<Range> matches;
        regex_->find_all(piece.text, matches);
        std::size_t previous = 0;
        for (const Range& match : matches) {
          if (previous != match.begin) stretches.push_back({{previous, match.begin}, false});
          stretches.push_back({match, true});
          previous = match.end;
        }
        if (previous != piece.text.size()) stretches.push_back({{previous, piece.text.size()}, false});
        split_piece(piece, stretches, SplitBehavior::isolated, false, out);
      });
    }
    for (Piece& piece : pieces) {
      std::string mapped;
      mapped.reserve(piece.text.size() * 2);
      append_byte_level(mapped, piece.text);
      piece.text = std::move(mapped);
    }
  }

 private:
  bool add_prefix_space_;
  bool use_regex_;
  std::unique_ptr<Regex> regex_;
};

class Digits final : public PreTokenizer {
 public:
  explicit Digits(const JsonNode& node) : individual_(node.bool_or("individual_digits", false)) {}
  void pre_tokenize(std::vector<Piece>& pieces, bool) const override {
    split_each(pieces, [&](const Piece& piece, std::vector<Stretch>& stretches, std::vector<Piece>& out) {
      find_character_matches(piece.text, is_numeric, stretches);
      split_piece(piece, stretches, individual_ ? SplitBehavior::isolated : SplitBehavior::contiguous, false, out);
    });
  }

 private:
  bool individual_;
};

enum class PrependScheme { always, first, never };

class Metaspace final : public PreTokenizer {
 public:
  explicit Metaspace(const JsonNode& node) : replacement_char_(node.single_char("replacement", U'\u2581')) {
    append_utf8(replacement_, replacement_char_);
    scheme_ = PrependScheme::always;
    if (node.has("prepend_scheme")) {
      const std::string scheme = node.string_at("prepend_scheme");
      if (scheme == "always") scheme_ = PrependScheme::always;
      else if (scheme == "first") scheme_ = PrependScheme::first;
      else if (scheme == "never") scheme_ = PrependScheme::never;
      else node.at("prepend_scheme").fail("must be \"always\", \"first\" or \"never\", not \"" + scheme + "\"");
    }
    // Files written before prepend_scheme existed say add_prefix_space instead.
    if (!node.bool_or("add_prefix_space", true)) {
      if (scheme_ != PrependScheme::never && node.has("prepend_scheme"))
        node.at("add_prefix_space").fail("false contradicts prepend_scheme \"" + node.string_at("prepend_scheme") + "\"");
      scheme_ = PrependScheme::never;
    }
    split_ = node.bool_or("split", true);
  }

  void pre_tokenize(std::vector<Piece>& pieces, bool continuation) const override {
    const PrependScheme scheme = continuation ? PrependScheme::never : scheme_;
    for (Piece& piece : pieces) {
      std::string replaced;
      replaced.reserve(piece.text.size() + 8);
      for (const char c : piece.text) {
        if (c == ' ')
          replaced += replacement_;
        else
          replaced.push_back(c);
      }
      const bool starts_with_replacement = replaced.compare(0, replacement_.size(), replacement_) == 0;
      const bool prepend = scheme == PrependScheme::always || (scheme == PrependScheme::first && piece.at_text_start);
      if (prepend && !starts_with_replacement) replaced.insert(0, replacement_);
      piece.text = std::move(replaced);
    }
    if (!split_) return;
    split_each(pieces, [&](const Piece& piece, std::vector<Stretch>& stretches, std::vector<Piece>& out) {
      find_character_matches(piece.text, [&](char32_t c) { return c == replacement_char_; }, stretches);
      split_piece(piece, stretches, SplitBehavior::merged_with_next, false, out);
    });
  }

 private:
  char32_t replacement_char_;
  std::string replacement_;
  PrependScheme scheme_;
  bool split_ = true;
};

// Rust regex's \w+|[^\w\s]+, written as a scan: runs of word characters and runs of other
// non-space characters; whitespace separates and is dropped.
class Whitespace final : public PreTokenizer {
 public:
  void pre_tokenize(std::vector<Piece>& pieces, bool) const override {
    std::vector<Piece> parts;
    for (const Piece& piece : pieces) {
      const std::string& text = piece.text;
      std::size_t position = 0;
      int run_kind = 0;  // 0 none, 1 word, 2 other
      std::size_t run_start = 0;
      auto close_run = [&](std::size_t end) {
        if (run_kind != 0) parts.push_back({text.substr(run_start, end - run_start), piece.at_text_start && run_start == 0});
        run_kind = 0;
      };
      while (position < text.size()) {
        const std::size_t start = position;
        const char32_t c = decode_utf8(text, position);
        const int kind = is_word_character(c) ? 1 : is_white_space(c) ? 0 : 2;
        if (kind == run_kind) continue;
        close_run(start);
        run_kind = kind;
        run_start = start;
      }
      close_run(text.size());
    }
    pieces = std::move(parts);
  }
};

class WhitespaceSplit final : public PreTokenizer {
 public:
  void pre_tokenize(std::vector<Piece>& pieces, bool) const override {
    split_each(pieces, [&](const Piece& piece, std::vector<Stretch>& stretches, std::vector<Piece>& out) {
      find_character_matches(piece.text, is_white_space, stretches);
      split_piece(piece, stretches, SplitBehavior::removed, false, out);
    });
  }
};

// Rust's char::is_ascii_punctuation (which counts $, +, <, =, >, ^, `, | and ~) or category P*.
bool is_punctuation_or_ascii_symbol(char32_t c) {
  if (c < 0x80) return (c >= 0x21 && c <= 0x2F) || (c >= 0x3A && c <= 0x40) || (c >= 0x5B && c <= 0x60) ||
                       (c >= 0x7B && c <= 0x7E);
  return is_punctuation(c);
}

class Punctuation final : public PreTokenizer {
 public:
  explicit Punctuation(const JsonNode& node)
      : behavior_(node.has("behavior") ? parse_split_behavior(node.at("behavior")) : SplitBehavior::isolated) {}
  void pre_tokenize(std::vector<Piece>& pieces, bool) const override {
    split_each(pieces, [&](const Piece& piece, std::vector<Stretch>& stretches, std::vector<Piece>& out) {
      find_character_matches(piece.text, is_punctuation_or_ascii_symbol, stretches);
      split_piece(piece, stretches, behavior_, false, out);
    });
  }

 private:
  SplitBehavior behavior_;
};

class BertPreTokenizer final : public PreTokenizer {
 public:
  void pre_tokenize(std::vector<Piece>& pieces, bool continuation) const override {
    WhitespaceSplit().pre_tokenize(pieces, continuation);
    split_each(pieces, [&](const Piece& piece, std::vector<Stretch>& stretches, std::vector<Piece>& out) {
      find_character_matches(piece.text, is_punctuation_or_ascii_symbol, stretches);
      split_piece(piece, stretches, SplitBehavior::isolated, false, out);
    });
  }
};

void parse_into(const JsonNode& node, std::vector<std::unique_ptr<PreTokenizer>>& chain) {
  if (node.value().is_null()) return;
  node.require_object();
  const std::string type = node.type();
  if (type == "Sequence") {
    const JsonNode list = node.at("pretokenizers");
    list.require_array();
    for (std::size_t i = 0; i < list.size(); ++i) parse_into(list.at(i), chain);
  } else if (type == "Split") {
    chain.push_back(std::make_unique<Split>(node));
  } else if (type == "ByteLevel") {
    chain.push_back(std::make_unique<ByteLevel>(node));
  } else if (type == "Digits") {
    chain.push_back(std::make_unique<Digits>(node));
  } else if (type == "Metaspace") {
    chain.push_back(std::make_unique<Metaspace>(node));
  } else if (type == "Whitespace") {
    chain.push_back(std::make_unique<Whitespace>());
  } else if (type == "WhitespaceSplit") {
    chain.push_back(std::make_unique<WhitespaceSplit>());
  } else if (type == "Punctuation") {
    chain.push_back(std::make_unique<Punctuation>(node));
  } else if (type == "BertPreTokenizer") {
    chain.push_back(std::make_unique<BertPreTokenizer>());
  } else {
    node.at("type").fail("pre-tokenizer \"" + type +
                         "\" is not supported (supported: Split, ByteLevel, Digits, Metaspace, Whitespace, "
                         "WhitespaceSplit, Punctuation, BertPreTokenizer, Sequence)");
  }
}

}  // namespace

std::vector<std::unique_ptr<PreTokenizer>> parse_pre_tokenizers(const JsonNode& node) {
  std::vector<std::unique_ptr<PreTokenizer>> chain;
  parse_into(node, chain);
  return chain;
}

}  // namespace selm::hf
