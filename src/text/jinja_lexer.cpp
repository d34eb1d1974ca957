#include "jinja_lexer.hpp"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <limits>

#include "jinja_unicode.hpp"
#include "selm/util/error.hpp"

namespace selm::jinja::detail {
namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_name_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool is_name_char(char c) { return is_name_start(c) || is_digit(c); }

// jinja2 reads the source with its newlines normalised and one trailing newline removed
// (keep_trailing_newline is off).
std::string normalise_newlines(const std::string& source) {
  std::string out;
  out.reserve(source.size());
  for (std::size_t i = 0; i < source.size(); ++i) {
    if (source[i] == '\r') {
      out.push_back('\n');
      if (i + 1 < source.size() && source[i + 1] == '\n') ++i;
    } else {
      out.push_back(source[i]);
    }
  }
  if (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

class Lexer {
 public:
  Lexer(const std::string& source, const std::string& origin) : source_(normalise_newlines(source)), origin_(origin) {}

  std::vector<Token> run() {
    while (pos_ < source_.size()) lex_root();
    Token end;
    end.kind = TokenKind::end;
    end.line = line_;
    tokens_.push_back(end);
    return std::move(tokens_);
  }

 private:
  [[noreturn]] void error(std::size_t line, const std::string& message) const {
    throw_input_error(origin_, line, message);
  }

  // Length of the Unicode whitespace character at `at` (0 when there is none).
  std::size_t space_at(std::size_t at) const {
    const auto byte = static_cast<unsigned char>(source_[at]);
    if (byte < 0x80) return is_space(byte) ? 1 : 0;
    std::size_t length = (byte & 0xE0) == 0xC0 ? 2 : (byte & 0xF0) == 0xE0 ? 3 : (byte & 0xF8) == 0xF0 ? 4 : 1;
    length = std::min(length, source_.size() - at);
    const std::u32string decoded = decode_utf8(source_.substr(at, length));
    return decoded.size() == 1 && is_space(decoded[0]) ? length : 0;
  }

  // Skips \s* from `at`, counting newlines; returns the new position.
  std::size_t skip_spaces(std::size_t at) {
    while (at < source_.size()) {
      const std::size_t length = space_at(at);
      if (length == 0) break;
      if (source_[at] == '\n') ++line_;
      at += length;
    }
    return at;
  }

  // str.rstrip() of template text before a tag opened with `-`.
  std::string rstrip_text(const std::string& text) const {
    const std::u32string decoded = decode_utf8(text);
    std::size_t end = decoded.size();
    while (end > 0 && is_space(decoded[end - 1])) --end;
    if (end == decoded.size()) return text;
    return encode_utf8(decoded.data(), decoded.data() + end);
  }

  // jinja2's treatment of the text before a tag: `-` strips all whitespace, else lstrip_blocks
  // removes spaces and tabs between the line's start and a block or comment tag.
  std::string text_before_tag(std::string text, char sign, bool variable_tag) const {
    if (sign == '-') return rstrip_text(text);
    if (sign == '+' || variable_tag) return text;
    const std::size_t line_start = text.rfind('\n') == std::string::npos ? 0 : text.rfind('\n') + 1;
    if (line_start == 0 && !line_starting_) return text;
    if (text.find_first_not_of(" \t", line_start) != std::string::npos) return text;
    text.resize(line_start);
    return text;
  }

  void emit_data(const std::string& text, std::size_t line) {
    if (text.empty()) return;
    Token token;
    token.kind = TokenKind::data;
    token.text = text;
    token.line = line;
    tokens_.push_back(std::move(token));
  }

  void emit(TokenKind kind, std::string text, std::size_t line) {
    Token token;
    token.kind = kind;
    token.text = std::move(text);
    token.line = line;
    tokens_.push_back(std::move(token));
  }

  std::size_t count_newlines(std::size_t from, std::size_t to) const {
    return static_cast<std::size_t>(std::count(source_.begin() + static_cast<std::ptrdiff_t>(from),
                                               source_.begin() + static_cast<std::ptrdiff_t>(to), '\n'));
  }

  // Where `{% raw %}` (with optional signs) ends when a raw tag opens at `at` (after the sign);
  // npos when the tag is not raw.
  std::size_t raw_tag_end(std::size_t at) const {
    std::size_t i = at;
    while (i < source_.size() && space_at(i) > 0) i += space_at(i);
    if (source_.compare(i, 3, "raw") != 0) return std::string::npos;
    i += 3;
    while (i < source_.size() && space_at(i) > 0) i += space_at(i);
    if (source_.compare(i, 3, "-%}") == 0) {
      i += 3;
      while (i < source_.size() && space_at(i) > 0) i += space_at(i);
      return i;
    }
    if (source_.compare(i, 2, "%}") == 0) return i + 2;
    return std::string::npos;
  }

  void lex_root() {
    std::size_t start = pos_;
    while (true) {
      start = source_.find('{', start);
      if (start == std::string::npos || start + 1 >= source_.size()) {
        emit_data(source_.substr(pos_), line_);
        line_ += count_newlines(pos_, source_.size());
        pos_ = source_.size();
        return;
      }
      const char kind = source_[start + 1];
      if (kind == '{' || kind == '%' || kind == '#') break;
      ++start;
    }
    const char kind = source_[start + 1];
    std::size_t after = start + 2;
    char sign = 0;
    if (after < source_.size() && (source_[after] == '-' || source_[after] == '+')) sign = source_[after++];
    const std::size_t raw_end = kind == '%' ? raw_tag_end(after) : std::string::npos;

    emit_data(text_before_tag(source_.substr(pos_, start - pos_), sign, kind == '{'), line_);
    line_ += count_newlines(pos_, start);
    line_starting_ = false;
    const std::size_t tag_line = line_;

    if (raw_end != std::string::npos) {
      line_ += count_newlines(start, raw_end);
      line_starting_ = source_[raw_end - 1] == '\n';
      lex_raw(raw_end, tag_line);
    } else if (kind == '#') {
      lex_comment(after, tag_line);
    } else {
      emit(kind == '{' ? TokenKind::variable_begin : TokenKind::block_begin, kind == '{' ? "{{" : "{%", tag_line);
      pos_ = after;
      lex_tag(kind == '{');
    }
  }

  void lex_comment(std::size_t content, std::size_t tag_line) {
    const std::size_t close = source_.find("#}", content);
    if (close == std::string::npos) error(tag_line, "missing end of comment tag");
    const char sign = close > content ? source_[close - 1] : 0;
    line_ += count_newlines(content, close);
    std::size_t after = close + 2;
    if (sign == '-') {
      after = skip_spaces(after);
    } else if (sign != '+' && after < source_.size() && source_[after] == '\n') {
      ++line_;
      ++after;
    }
    line_starting_ = source_[after - 1] == '\n';
    pos_ = after;
  }

  void lex_raw(std::size_t content, std::size_t tag_line) {
    std::size_t search = content;
    while (true) {
      const std::size_t open = source_.find("{%", search);
      if (open == std::string::npos) error(tag_line, "missing end of raw directive");
      std::size_t i = open + 2;
      char sign = 0;
      if (i < source_.size() && (source_[i] == '-' || source_[i] == '+')) sign = source_[i++];
      while (i < source_.size() && space_at(i) > 0) i += space_at(i);
      if (source_.compare(i, 6, "endraw") != 0) {
        search = open + 2;
        continue;
      }
      i += 6;
      while (i < source_.size() && space_at(i) > 0) i += space_at(i);
      std::size_t end = std::string::npos;
      if (source_.compare(i, 3, "+%}") == 0) {
        end = i + 3;
      } else if (source_.compare(i, 3, "-%}") == 0) {
        end = i + 3;
        while (end < source_.size() && space_at(end) > 0) end += space_at(end);
      } else if (source_.compare(i, 2, "%}") == 0) {
        end = i + 2;
        if (end < source_.size() && source_[end] == '\n') ++end;
      }
      if (end == std::string::npos) {
        search = open + 2;
        continue;
      }
      emit_data(text_before_tag(source_.substr(content, open - content), sign, false), line_);
      line_ += count_newlines(content, end);
      line_starting_ = source_[end - 1] == '\n';
      pos_ = end;
      return;
    }
  }

  // Inside {{ }} or {% %}: tokens up to the closing delimiter (only outside brackets, as jinja2).
  void lex_tag(bool variable) {
    std::vector<char> brackets;
    const std::size_t open_line = line_;
    while (true) {
      if (pos_ >= source_.size())
        error(open_line, variable ? "unexpected end of template: '}}' missing" : "unexpected end of template: '%}' missing");
      if (brackets.empty() && close_tag(variable)) return;
      if (const std::size_t length = space_at(pos_); length > 0) {
        pos_ = skip_spaces(pos_);
        continue;
      }
      const char c = source_[pos_];
      if (is_digit(c)) {
        lex_number();
        continue;
      }
      if (is_name_start(c)) {
        std::size_t end = pos_ + 1;
        while (end < source_.size() && is_name_char(source_[end])) ++end;
        emit(TokenKind::name, source_.substr(pos_, end - pos_), line_);
        pos_ = end;
        continue;
      }
      if (c == '\'' || c == '"') {
        lex_string();
        continue;
      }
      lex_operator(brackets);
    }
  }

  bool close_tag(bool variable) {
    const std::size_t line = line_;
    if (variable) {
      if (source_.compare(pos_, 3, "-}}") == 0) {
        pos_ = skip_spaces(pos_ + 3);
      } else if (source_.compare(pos_, 2, "}}") == 0) {
        pos_ += 2;
      } else {
        return false;
      }
      emit(TokenKind::variable_end, "}}", line);
    } else {
      if (source_.compare(pos_, 3, "+%}") == 0) {
        pos_ += 3;
      } else if (source_.compare(pos_, 3, "-%}") == 0) {
        pos_ = skip_spaces(pos_ + 3);
      } else if (source_.compare(pos_, 2, "%}") == 0) {
        pos_ += 2;
        if (pos_ < source_.size() && source_[pos_] == '\n') {
          ++pos_;
          ++line_;
        }
      } else {
        return false;
      }
      emit(TokenKind::block_end, "%}", line);
    }
    line_starting_ = source_[pos_ - 1] == '\n';
    return true;
  }

  // Digits with single underscores between them, from `at`; returns the end (== at: none).
  std::size_t digit_run(std::size_t at, bool (*digit)(char)) const {
    std::size_t end = at;
    if (end >= source_.size() || !digit(source_[end])) return at;
    ++end;
    while (end < source_.size()) {
      if (digit(source_[end])) {
        ++end;
      } else if (source_[end] == '_' && end + 1 < source_.size() && digit(source_[end + 1])) {
        end += 2;
      } else {
        break;
      }
    }
    return end;
  }

  static std::string without_underscores(const std::string& text) {
    std::string out;
    for (const char c : text)
      if (c != '_') out.push_back(c);
    return out;
  }

  void lex_number() {
    const std::size_t line = line_;
    // jinja2 tries a float first (not right after a '.', so that x.0.1 stays item access).
    if (pos_ == 0 || source_[pos_ - 1] != '.') {
      const std::size_t integer_end = digit_run(pos_, is_digit);
      std::size_t end = integer_end;
      bool is_float = false;
      if (end + 1 < source_.size() && source_[end] == '.' && is_digit(source_[end + 1])) {
        end = digit_run(end + 1, is_digit);
        is_float = true;
      }
      if (end < source_.size() && (source_[end] == 'e' || source_[end] == 'E')) {
        std::size_t exponent = end + 1;
        if (exponent < source_.size() && (source_[exponent] == '+' || source_[exponent] == '-')) ++exponent;
        const std::size_t exponent_end = digit_run(exponent, is_digit);
        if (exponent_end > exponent) {
          end = exponent_end;
          is_float = true;
        }
      }
      if (is_float) {
        const std::string text = without_underscores(source_.substr(pos_, end - pos_));
        Token token;
        token.kind = TokenKind::floating;
        token.text = text;
        token.line = line;
        const auto parsed = std::from_chars(text.data(), text.data() + text.size(), token.floating);
        if (parsed.ec != std::errc()) error(line, "float literal " + text + " is out of range");
        tokens_.push_back(std::move(token));
        pos_ = end;
        return;
      }
    }
    int base = 10;
    std::size_t digits_at = pos_;
    std::size_t end = pos_;
    const char prefix = pos_ + 1 < source_.size() ? static_cast<char>(source_[pos_ + 1] | 0x20) : 0;
    const auto binary = [](char c) { return c == '0' || c == '1'; };
    const auto octal = [](char c) { return c >= '0' && c <= '7'; };
    const auto hexadecimal = [](char c) {
      return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
    };
    const auto zero = [](char c) { return c == '0'; };
    if (source_[pos_] == '0' && (prefix == 'b' || prefix == 'o' || prefix == 'x')) {
      base = prefix == 'b' ? 2 : prefix == 'o' ? 8 : 16;
      bool (*digit)(char) = base == 2 ? +binary : base == 8 ? +octal : +hexadecimal;
      digits_at = pos_ + 2;
      // After the prefix an underscore may also lead: 0x_ff.
      std::size_t at = digits_at;
      if (at < source_.size() && source_[at] == '_') ++at;
      end = digit_run(at, digit);
      if (end == at) {
        base = 10;
        end = digit_run(pos_, zero);
        digits_at = pos_;
      }
    } else if (source_[pos_] == '0') {
      end = digit_run(pos_, zero);
    } else {
      end = digit_run(pos_, is_digit);
    }
    const std::string digits = without_underscores(source_.substr(digits_at, end - digits_at));
    Token token;
    token.kind = TokenKind::integer;
    token.text = source_.substr(pos_, end - pos_);
    token.line = line;
    const auto parsed = std::from_chars(digits.data(), digits.data() + digits.size(), token.integer, base);
    if (parsed.ec != std::errc())
      error(line, "integer literal " + token.text + " is too large (64-bit integers only)");
    tokens_.push_back(std::move(token));
    pos_ = end;
  }

  static int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  }

  // Python's unicode_escape decoding of the literal's body, as jinja2 applies it.
  std::string decode_string(const std::string& body, std::size_t line) const {
    std::string out;
    for (std::size_t i = 0; i < body.size(); ++i) {
      const char c = body[i];
      if (c != '\\') {
        out.push_back(c);
        continue;
      }
      const char escape = body[++i];
      switch (escape) {
        case '\n': break;  // line continuation
        case '\\': out.push_back('\\'); break;
        case '\'': out.push_back('\''); break;
        case '"': out.push_back('"'); break;
        case 'a': out.push_back('\a'); break;
        case 'b': out.push_back('\b'); break;
        case 'f': out.push_back('\f'); break;
        case 'n': out.push_back('\n'); break;
        case 'r': out.push_back('\r'); break;
        case 't': out.push_back('\t'); break;
        case 'v': out.push_back('\v'); break;
        case 'x':
        case 'u':
        case 'U': {
          const std::size_t width = escape == 'x' ? 2 : escape == 'u' ? 4 : 8;
          char32_t code_point = 0;
          for (std::size_t k = 1; k <= width; ++k) {
            const int digit = i + k < body.size() ? hex_value(body[i + k]) : -1;
            if (digit < 0) error(line, std::string("truncated \\") + escape + " escape in a string literal");
            code_point = code_point * 16 + static_cast<char32_t>(digit);
          }
          if (code_point > 0x10FFFF) error(line, "\\U escape beyond U+10FFFF in a string literal");
          if (code_point >= 0xD800 && code_point <= 0xDFFF)
            error(line, "a surrogate escape in a string literal is not supported");
          append_utf8(code_point, out);
          i += width;
          break;
        }
        case 'N': error(line, "\\N{...} escapes in string literals are not supported");
        default:
          if (escape >= '0' && escape <= '7') {
            char32_t code_point = 0;
            std::size_t k = 0;
            while (k < 3 && i + k < body.size() && body[i + k] >= '0' && body[i + k] <= '7') {
              code_point = code_point * 8 + static_cast<char32_t>(body[i + k] - '0');
              ++k;
            }
            append_utf8(code_point, out);
            i += k - 1;
          } else if (static_cast<unsigned char>(escape) >= 0x80) {
            error(line, "a backslash before a non-ASCII character in a string literal is not supported");
          } else {
            // Python keeps an unknown escape as it is.
            out.push_back('\\');
            out.push_back(escape);
          }
      }
    }
    return out;
  }

  void lex_string() {
    const char quote = source_[pos_];
    const std::size_t line = line_;
    std::size_t i = pos_ + 1;
    while (i < source_.size() && source_[i] != quote) i += source_[i] == '\\' ? 2 : 1;
    if (i >= source_.size()) error(line, std::string("unexpected char '") + quote + "' (unterminated string)");
    const std::string body = source_.substr(pos_ + 1, i - pos_ - 1);
    emit(TokenKind::string, decode_string(body, line), line);
    line_ += count_newlines(pos_, i);
    pos_ = i + 1;
  }

  void lex_operator(std::vector<char>& brackets) {
    static const char* const kTwoCharacter[] = {"**", "//", "==", "!=", ">=", "<="};
    for (const char* op : kTwoCharacter) {
      if (source_.compare(pos_, 2, op) == 0) {
        emit(TokenKind::operator_, op, line_);
        pos_ += 2;
        return;
      }
    }
    const char c = source_[pos_];
    static const std::string kSingle = "+-/*%~[](){}><=.:|,;";
    if (kSingle.find(c) == std::string::npos) {
      std::string shown(1, c);
      if (static_cast<unsigned char>(c) >= 0x80) shown = encode_utf8(decode_utf8(source_.substr(pos_, 4)).substr(0, 1));
      error(line_, "unexpected char '" + shown + "'");
    }
    if (c == '(' || c == '[' || c == '{') brackets.push_back(c == '(' ? ')' : c == '[' ? ']' : '}');
    if (c == ')' || c == ']' || c == '}') {
      if (brackets.empty()) error(line_, std::string("unexpected '") + c + "'");
      if (brackets.back() != c) error(line_, std::string("unexpected '") + c + "', expected '" + brackets.back() + "'");
      brackets.pop_back();
    }
    emit(TokenKind::operator_, std::string(1, c), line_);
    ++pos_;
  }

  std::string source_;
  const std::string& origin_;
  std::size_t pos_ = 0;
  std::size_t line_ = 1;
  bool line_starting_ = true;  // the last thing read ended a line (lstrip_blocks needs it)
  std::vector<Token> tokens_;
};

}  // namespace

std::vector<Token> tokenize(const std::string& source, const std::string& origin) {
  return Lexer(source, origin).run();
}

std::string describe(const Token& token) {
  switch (token.kind) {
    case TokenKind::data: return "template data";
    case TokenKind::variable_begin: return "'{{'";
    case TokenKind::variable_end: return "end of print statement '}}'";
    case TokenKind::block_begin: return "'{%'";
    case TokenKind::block_end: return "end of statement block '%}'";
    case TokenKind::name: return "'" + token.text + "'";
    case TokenKind::string: return "string";
    case TokenKind::integer:
    case TokenKind::floating: return "number " + token.text;
    case TokenKind::operator_: return "'" + token.text + "'";
    case TokenKind::end: return "end of template";
  }
  return "token";
}

}  // namespace selm::jinja::detail
