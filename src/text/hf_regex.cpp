#define PCRE2_CODE_UNIT_WIDTH 8
#include "hf_regex.hpp"

#include <pcre2.h>

#include <new>
#include <stdexcept>
#include <vector>

#include "hf_json.hpp"
#include "hf_unicode.hpp"

namespace selm::hf {
namespace {

// Oniguruma's \w: letters (Alphabetic), marks, decimal digits and connector punctuation, plus
// the Latin-1 superscripts and fractions that its ctype table counts as word characters.
constexpr const char* kWordCharacters = "\\p{Alphabetic}\\p{M}\\p{Nd}\\p{Pc}\\x{B2}\\x{B3}\\x{B9}\\x{BC}-\\x{BE}";
constexpr const char* kHexDigits = "0-9A-Fa-f";

bool is_hex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

// `pattern` rewritten for PCRE2 (see hf_regex.hpp), with the pattern offset each output byte
// came from, for error messages.
std::string translate(std::string_view pattern, std::vector<std::size_t>* origins) {
  std::string out;
  out.reserve(pattern.size() + 16);
  bool in_class = false;
  auto emit = [&](std::string_view text, std::size_t origin) {
    out.append(text);
    if (origins) origins->insert(origins->end(), text.size(), origin);
  };
  std::size_t i = 0;
  while (i < pattern.size()) {
    const char c = pattern[i];
    if (c == '\\' && i + 1 < pattern.size()) {
      const char escaped = pattern[i + 1];
      switch (escaped) {
        case 's': emit("\\p{White_Space}", i); i += 2; continue;
        case 'S': emit("\\P{White_Space}", i); i += 2; continue;
        case 'h': emit(in_class ? std::string(kHexDigits) : "[" + std::string(kHexDigits) + "]", i); i += 2; continue;
        case 'w': emit(in_class ? std::string(kWordCharacters) : "[" + std::string(kWordCharacters) + "]", i); i += 2; continue;
        case 'H':
          if (!in_class) { emit("[^" + std::string(kHexDigits) + "]", i); i += 2; continue; }
          break;
        case 'W':
          if (!in_class) { emit("[^" + std::string(kWordCharacters) + "]", i); i += 2; continue; }
          break;
        case 'u':
          if (i + 5 < pattern.size() && is_hex(pattern[i + 2]) && is_hex(pattern[i + 3]) && is_hex(pattern[i + 4]) &&
              is_hex(pattern[i + 5])) {
            emit("\\x{" + std::string(pattern.substr(i + 2, 4)) + "}", i);
            i += 6;
            continue;
          }
          break;
        default: break;
      }
      emit(pattern.substr(i, 2), i);
      i += 2;
      continue;
    }
    if (!in_class && c == '[') {
      in_class = true;
      emit("[", i);
      ++i;
      if (i < pattern.size() && pattern[i] == '^') emit("^", i++);
      if (i < pattern.size() && pattern[i] == ']') emit("]", i++);  // a leading ] is literal
      continue;
    }
    if (in_class && c == '[' && i + 1 < pattern.size() && pattern[i + 1] == ':') {
      const std::size_t close = pattern.find(":]", i + 2);
      if (close != std::string_view::npos) {
        emit(pattern.substr(i, close + 2 - i), i);
        i = close + 2;
        continue;
      }
    }
    if (in_class && c == ']') in_class = false;
    emit(pattern.substr(i, 1), i);
    ++i;
  }
  return out;
}

// Per-thread match state: PCRE2 match data and JIT stacks cannot be shared between threads.
struct MatchState {
  pcre2_match_data* data = nullptr;
  pcre2_match_context* context = nullptr;
  pcre2_jit_stack* stack = nullptr;
  MatchState() {
    data = pcre2_match_data_create(1, nullptr);
    context = pcre2_match_context_create(nullptr);
    // Long whitespace runs under \s+(?!\S) backtrack deeply; the default 32 KiB JIT stack is
    // too small for them.
    stack = pcre2_jit_stack_create(64 * 1024, 16 * 1024 * 1024, nullptr);
    if (data == nullptr || context == nullptr) throw std::bad_alloc();
    if (stack != nullptr) pcre2_jit_stack_assign(context, nullptr, stack);
  }
  ~MatchState() {
    pcre2_jit_stack_free(stack);
    pcre2_match_context_free(context);
    pcre2_match_data_free(data);
  }
  MatchState(const MatchState&) = delete;
  MatchState& operator=(const MatchState&) = delete;
};

MatchState& match_state() {
  thread_local MatchState state;
  return state;
}

std::string pcre2_message(int code) {
  PCRE2_UCHAR buffer[256];
  pcre2_get_error_message(code, buffer, sizeof buffer);
  return reinterpret_cast<const char*>(buffer);
}

}  // namespace

Regex::Regex(const std::string& pattern, const JsonNode& where) {
  std::vector<std::size_t> origins;
  const std::string translated = translate(pattern, &origins);
  pcre2_compile_context* context = pcre2_compile_context_create(nullptr);
  if (context == nullptr) throw std::bad_alloc();
  pcre2_set_newline(context, PCRE2_NEWLINE_LF);
  int error = 0;
  PCRE2_SIZE offset = 0;
  code_ = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(translated.data()), translated.size(),
                        PCRE2_UTF | PCRE2_UCP | PCRE2_MULTILINE, &error, &offset, context);
  pcre2_compile_context_free(context);
  if (code_ == nullptr) {
    const std::size_t at = offset < origins.size() ? origins[offset] : pattern.size();
    where.fail("invalid regular expression \"" + pattern + "\" at offset " + std::to_string(at) + ": " +
               pcre2_message(error));
  }
  // Without JIT (some platforms) PCRE2 interprets the pattern: slower, same matches.
  pcre2_jit_compile(code_, PCRE2_JIT_COMPLETE);
}

Regex::~Regex() { pcre2_code_free(code_); }

void Regex::find_all(std::string_view text, std::vector<Range>& matches) const {
  MatchState& state = match_state();
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  std::size_t last_end = 0;
  bool skip_next_empty = false;
  while (last_end <= text.size()) {
    int rc = pcre2_match(code_, subject, text.size(), last_end, PCRE2_NO_UTF_CHECK, state.data, state.context);
    // Backtracking deeper than the JIT stack allows: the interpreter keeps its frames on the
    // heap and gives the same match, only slower.
    if (rc == PCRE2_ERROR_JIT_STACKLIMIT)
      rc = pcre2_match(code_, subject, text.size(), last_end, PCRE2_NO_UTF_CHECK | PCRE2_NO_JIT, state.data,
                       state.context);
    if (rc == PCRE2_ERROR_NOMATCH) break;
    if (rc < 0) throw std::runtime_error("regular expression match failed: " + pcre2_message(rc));
    const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(state.data);
    const std::size_t start = ovector[0], end = ovector[1];
    last_end = end;
    if (start == end) {
      last_end += end < text.size() ? utf8_sequence_length(static_cast<unsigned char>(text[end])) : 1;
      if (skip_next_empty) {
        skip_next_empty = false;
        continue;
      }
    } else {
      skip_next_empty = true;
    }
    matches.push_back({start, end});
  }
}

}  // namespace selm::hf
