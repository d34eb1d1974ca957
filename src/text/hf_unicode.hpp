// UTF-8 and Unicode helpers for the tokenizer.json pipeline, with the character classes of Rust's
// standard library, which is what Hugging Face tokenizers (a Rust crate) uses to decide what is
// whitespace, a digit or a mark. Character properties come from utf8proc.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace selm::hf {

// Byte length of the UTF-8 sequence a lead byte starts (1 for ASCII and for stray bytes).
inline std::size_t utf8_sequence_length(unsigned char lead) {
  if (lead < 0xC0) return 1;
  if (lead < 0xE0) return 2;
  if (lead < 0xF0) return 3;
  return 4;
}

// The code point starting at `position` of valid UTF-8 text; advances `position` past it.
char32_t decode_utf8(std::string_view text, std::size_t& position);
void append_utf8(std::string& out, char32_t code_point);

bool is_ascii(std::string_view text);
bool is_valid_utf8(std::string_view text);
// `text` with every ill-formed sequence replaced by U+FFFD, one per maximal subpart (Unicode's
// recommended practice, which Rust's String::from_utf8_lossy and WHATWG decoders follow).
std::string to_valid_utf8(std::string_view text);

// Rust's char::is_whitespace: the Unicode White_Space property.
bool is_white_space(char32_t c);
// Rust's char::is_numeric: general categories Nd, Nl and No.
bool is_numeric(char32_t c);
// A character of Rust regex's \w (Alphabetic, marks, decimal digits, connector punctuation and
// the joiners), which decides single_word added tokens.
bool is_word_character(char32_t c);
// General category P* (punctuation).
bool is_punctuation(char32_t c);
// General category M* (what StripAccents removes).
bool is_combining_mark(char32_t c);

enum class NormalForm { nfc, nfd, nfkc, nfkd };
std::string unicode_normalize(std::string_view text, NormalForm form);
// Rust's per-character to_lowercase (no context rules: a final sigma stays σ).
std::string to_lower(std::string_view text);

}  // namespace selm::hf
