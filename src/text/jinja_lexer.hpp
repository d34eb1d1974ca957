// Splits a Jinja template into tokens exactly where jinja2's lexer does, with transformers'
// settings: trim_blocks (the newline after a block or comment tag goes), lstrip_blocks (spaces
// and tabs before a block or comment tag on its own line go), `-` and `+` whitespace control,
// newlines normalised to \n and one trailing newline dropped.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace selm::jinja::detail {

enum class TokenKind : std::uint8_t {
  data,            // template text, printed as it is
  variable_begin,  // {{
  variable_end,    // }}
  block_begin,     // {%
  block_end,       // %}
  name,
  string,          // text: the decoded literal
  integer,
  floating,
  operator_,       // text: + - * / // % ** ~ == != < <= > >= = . : | , ( ) [ ] { }
  end,             // end of the template
};

struct Token {
  TokenKind kind = TokenKind::end;
  std::string text;
  std::int64_t integer = 0;
  double floating = 0.0;
  std::size_t line = 1;
};

// InputError "ORIGIN:LINE: ..." for text jinja2 cannot lex (an unterminated string or comment, an
// unexpected character, unbalanced brackets) or a literal outside what is supported.
std::vector<Token> tokenize(const std::string& source, const std::string& origin);

// How a token reads in messages: "name 'foo'", "'%}'", "end of template".
std::string describe(const Token& token);

}  // namespace selm::jinja::detail
