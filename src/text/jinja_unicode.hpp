// The Unicode facts Python's str methods depend on, for the Jinja engine: UTF-8 code points,
// whitespace, line boundaries, case mappings and printability (repr).
//
// Python applies the full Unicode database; these tables cover ASCII, Latin-1, Latin Extended-A,
// Greek, Cyrillic, fullwidth Latin and the large scripts without case (CJK, kana, Hangul,
// symbols, emoji). A character outside them answers "unknown" and the caller reports an
// unsupported character rather than guessing.
#pragma once

#include <cstddef>
#include <optional>
#include <string>

namespace selm::jinja::detail {

// The code points of UTF-8 text; invalid bytes decode as themselves (U+0080..U+00FF) so that
// indexing never fails (Python strings are always valid, so such bytes only come from outside).
std::u32string decode_utf8(const std::string& text);
void append_utf8(char32_t code_point, std::string& out);
std::string encode_utf8(const std::u32string& code_points);
std::string encode_utf8(const char32_t* first, const char32_t* last);

bool is_ascii(const std::string& text);
// len() of a Python str.
std::size_t code_point_count(const std::string& text);

// str.isspace() (and what the re module's \s matches).
bool is_space(char32_t code_point);
// Where str.splitlines() breaks a line (\r\n counts as one boundary; the caller handles it).
bool is_line_boundary(char32_t code_point);

enum class Case { caseless, lower, upper, unknown };
// Whether str.islower()/isupper() count the character, and whether str.title() treats it as cased.
Case case_of(char32_t code_point);

// Full case mappings of str.lower(), str.upper() and the title case str.title() and
// str.capitalize() use; nullopt when the character is outside the tables.
std::optional<std::u32string> lower_case(char32_t code_point);
std::optional<std::u32string> upper_case(char32_t code_point);
std::optional<std::u32string> title_case(char32_t code_point);

// str.isprintable() for one character; nullopt when outside the tables.
std::optional<bool> is_printable(char32_t code_point);

}  // namespace selm::jinja::detail
