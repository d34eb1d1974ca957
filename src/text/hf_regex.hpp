// Regular expressions of tokenizer.json (Split pre-tokenizers, Replace normalizers and decoders),
// run with PCRE2 so that the rest of selm never sees it.
//
// Hugging Face tokenizers compiles these patterns with Oniguruma; PCRE2 in UTF + UCP mode agrees
// on \p{L}, \p{N}, lookahead and case-insensitive groups, and the constructor first rewrites the
// escapes whose meaning differs: \s (Oniguruma: the White_Space property; PCRE2 would add
// U+180E), \h (Oniguruma: a hexadecimal digit), \w (letters, marks, decimal digits, connector
// punctuation) and \uHHHH. ^ and $ are line anchors in Oniguruma, so patterns are compiled
// MULTILINE with LF as the only newline.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

struct pcre2_real_code_8;

namespace selm::hf {

class JsonNode;

// A byte range [begin, end) of a text.
struct Range {
  std::size_t begin = 0;
  std::size_t end = 0;
};

class Regex {
 public:
  // Compiles `pattern`; an invalid one is an InputError at `where` with PCRE2's message and the
  // offset in the original pattern.
  Regex(const std::string& pattern, const JsonNode& where);
  ~Regex();
  Regex(const Regex&) = delete;
  Regex& operator=(const Regex&) = delete;

  // Appends the successive non-overlapping matches in `text` (valid UTF-8) with the iteration
  // rules of the onig crate's find_iter: after an empty match the search moves on one character,
  // and an empty match right after a non-empty one is skipped.
  void find_all(std::string_view text, std::vector<Range>& matches) const;

 private:
  pcre2_real_code_8* code_ = nullptr;
};

}  // namespace selm::hf
