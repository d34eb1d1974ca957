#include "jinja_strings.hpp"

#include <algorithm>
#include <cstdio>
#include <limits>

#include "jinja_unicode.hpp"
#include "jinja_value.hpp"

namespace selm::jinja::detail {
namespace {

constexpr std::int64_t kNoLimit = std::numeric_limits<std::int64_t>::max();

std::string code_point_name(char32_t code_point) {
  char name[16];
  std::snprintf(name, sizeof name, "U+%04X", static_cast<unsigned>(code_point));
  return name;
}

[[noreturn]] void fail_case(const char* method, char32_t code_point) {
  fail(std::string("str.") + method + "() of a string holding " + code_point_name(code_point) +
       " is not supported (outside the engine's Unicode case tables)");
}

// Byte offsets of each code point of `text`, plus the end: offsets[i] starts code point i.
std::vector<std::size_t> code_point_offsets(const std::string& text) {
  std::vector<std::size_t> offsets;
  offsets.reserve(text.size() + 1);
  for (std::size_t i = 0; i < text.size(); ++i)
    if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) offsets.push_back(i);
  offsets.push_back(text.size());
  return offsets;
}

// CPython's ADJUST_INDICES for find/count: negative values count from the end; the end is
// clamped to the length, the start is not (so a start past the end finds nothing).
void adjust_search_range(std::int64_t length, std::optional<std::int64_t> start, std::optional<std::int64_t> end,
                         std::int64_t& first, std::int64_t& last) {
  first = start.value_or(0);
  last = end.value_or(kNoLimit);
  if (last > length) {
    last = length;
  } else if (last < 0) {
    last += length;
    if (last < 0) last = 0;
  }
  if (first < 0) {
    first += length;
    if (first < 0) first = 0;
  }
}

}  // namespace

std::string py_strip(const std::string& text, const std::optional<std::string>& chars, StripSide side) {
  const std::u32string decoded = decode_utf8(text);
  const std::u32string set = chars ? decode_utf8(*chars) : std::u32string();
  const auto strippable = [&](char32_t c) { return chars ? set.find(c) != std::u32string::npos : is_space(c); };
  std::size_t first = 0;
  std::size_t last = decoded.size();
  if (side != StripSide::right)
    while (first < last && strippable(decoded[first])) ++first;
  if (side != StripSide::left)
    while (last > first && strippable(decoded[last - 1])) --last;
  if (first == 0 && last == decoded.size()) return text;
  return encode_utf8(decoded.data() + first, decoded.data() + last);
}

std::vector<std::string> py_split(const std::string& text, const std::optional<std::string>& separator,
                                  std::int64_t max_split) {
  std::int64_t remaining = max_split < 0 ? kNoLimit : max_split;
  std::vector<std::string> parts;
  if (separator) {
    if (separator->empty()) fail("empty separator");
    std::size_t at = 0;
    while (remaining-- > 0) {
      const std::size_t found = text.find(*separator, at);
      if (found == std::string::npos) break;
      parts.push_back(text.substr(at, found - at));
      at = found + separator->size();
    }
    parts.push_back(text.substr(at));
    return parts;
  }
  const std::u32string s = decode_utf8(text);
  const std::size_t n = s.size();
  std::size_t i = 0;
  while (remaining-- > 0) {
    while (i < n && is_space(s[i])) ++i;
    if (i == n) break;
    const std::size_t j = i++;
    while (i < n && !is_space(s[i])) ++i;
    parts.push_back(encode_utf8(s.data() + j, s.data() + i));
  }
  if (i < n) {
    while (i < n && is_space(s[i])) ++i;
    if (i != n) parts.push_back(encode_utf8(s.data() + i, s.data() + n));
  }
  return parts;
}

std::vector<std::string> py_rsplit(const std::string& text, const std::optional<std::string>& separator,
                                   std::int64_t max_split) {
  std::int64_t remaining = max_split < 0 ? kNoLimit : max_split;
  std::vector<std::string> parts;
  if (separator) {
    if (separator->empty()) fail("empty separator");
    std::size_t end = text.size();
    while (remaining-- > 0 && end >= separator->size()) {
      const std::size_t found = text.rfind(*separator, end - separator->size());
      if (found == std::string::npos) break;
      parts.push_back(text.substr(found + separator->size(), end - found - separator->size()));
      end = found;
    }
    parts.push_back(text.substr(0, end));
    std::reverse(parts.begin(), parts.end());
    return parts;
  }
  const std::u32string s = decode_utf8(text);
  std::int64_t i = static_cast<std::int64_t>(s.size()) - 1;
  const auto space = [&](std::int64_t k) { return is_space(s[static_cast<std::size_t>(k)]); };
  while (remaining-- > 0) {
    while (i >= 0 && space(i)) --i;
    if (i < 0) break;
    const std::int64_t j = i--;
    while (i >= 0 && !space(i)) --i;
    parts.push_back(encode_utf8(s.data() + i + 1, s.data() + j + 1));
  }
  if (i >= 0) {
    while (i >= 0 && space(i)) --i;
    if (i >= 0) parts.push_back(encode_utf8(s.data(), s.data() + i + 1));
  }
  std::reverse(parts.begin(), parts.end());
  return parts;
}

std::vector<std::string> py_splitlines(const std::string& text, bool keep_ends) {
  const std::u32string s = decode_utf8(text);
  std::vector<std::string> lines;
  std::size_t start = 0;
  std::size_t i = 0;
  while (i < s.size()) {
    if (!is_line_boundary(s[i])) {
      ++i;
      continue;
    }
    std::size_t end_of_break = i + 1;
    if (s[i] == '\r' && end_of_break < s.size() && s[end_of_break] == '\n') ++end_of_break;
    lines.push_back(encode_utf8(s.data() + start, s.data() + (keep_ends ? end_of_break : i)));
    start = i = end_of_break;
  }
  if (start < s.size()) lines.push_back(encode_utf8(s.data() + start, s.data() + s.size()));
  return lines;
}

std::string py_replace(const std::string& text, const std::string& old_text, const std::string& new_text,
                       std::int64_t count) {
  std::int64_t remaining = count < 0 ? kNoLimit : count;
  std::string out;
  if (old_text.empty()) {
    // An empty pattern matches before every code point and at the end.
    const std::vector<std::size_t> offsets = code_point_offsets(text);
    for (std::size_t k = 0; k + 1 < offsets.size(); ++k) {
      if (remaining-- > 0) out += new_text;
      out.append(text, offsets[k], offsets[k + 1] - offsets[k]);
    }
    if (remaining > 0) out += new_text;
    return out;
  }
  std::size_t at = 0;
  while (remaining-- > 0) {
    const std::size_t found = text.find(old_text, at);
    if (found == std::string::npos) break;
    out.append(text, at, found - at);
    out += new_text;
    at = found + old_text.size();
  }
  out.append(text, at, std::string::npos);
  return out;
}

std::string py_lower(const std::string& text) {
  if (is_ascii(text)) {
    std::string out = text;
    for (char& c : out)
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
    return out;
  }
  std::u32string out;
  for (const char32_t c : decode_utf8(text)) {
    const auto mapped = lower_case(c);
    if (!mapped) fail_case("lower", c);
    out += *mapped;
  }
  return encode_utf8(out);
}

std::string py_upper(const std::string& text) {
  if (is_ascii(text)) {
    std::string out = text;
    for (char& c : out)
      if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 32);
    return out;
  }
  std::u32string out;
  for (const char32_t c : decode_utf8(text)) {
    const auto mapped = upper_case(c);
    if (!mapped) fail_case("upper", c);
    out += *mapped;
  }
  return encode_utf8(out);
}

std::string py_title(const std::string& text) {
  std::u32string out;
  bool previous_is_cased = false;
  for (const char32_t c : decode_utf8(text)) {
    const Case kind = case_of(c);
    if (kind == Case::unknown) fail_case("title", c);
    const auto mapped = previous_is_cased ? lower_case(c) : title_case(c);
    if (!mapped) fail_case("title", c);
    out += *mapped;
    previous_is_cased = kind != Case::caseless;
  }
  return encode_utf8(out);
}

std::string py_capitalize(const std::string& text) {
  std::u32string out;
  bool first = true;
  for (const char32_t c : decode_utf8(text)) {
    const auto mapped = first ? title_case(c) : lower_case(c);
    if (!mapped) fail_case("capitalize", c);
    out += *mapped;
    first = false;
  }
  return encode_utf8(out);
}

namespace {

// Python's islower/isupper: no character of the opposite case and at least one of this case.
bool has_only_case(const std::string& text, Case wanted, const char* method) {
  bool cased = false;
  for (const char32_t c : decode_utf8(text)) {
    const Case kind = case_of(c);
    if (kind == Case::unknown) fail_case(method, c);
    if (kind == Case::caseless) continue;
    if (kind != wanted) return false;
    cased = true;
  }
  return cased;
}

}  // namespace

bool py_islower(const std::string& text) { return has_only_case(text, Case::lower, "islower"); }
bool py_isupper(const std::string& text) { return has_only_case(text, Case::upper, "isupper"); }

std::string py_pad(const std::string& text, std::int64_t width, const std::string& fill, int where) {
  const auto length = static_cast<std::int64_t>(code_point_count(text));
  const std::int64_t margin = width - length;
  if (margin <= 0) return text;
  std::int64_t left = 0;
  if (where == 0) left = margin / 2 + (margin & width & 1);
  else if (where > 0) left = margin;
  std::string out;
  for (std::int64_t i = 0; i < left; ++i) out += fill;
  out += text;
  for (std::int64_t i = left; i < margin; ++i) out += fill;
  return out;
}

SliceIndices slice_indices(std::int64_t length, std::optional<std::int64_t> start, std::optional<std::int64_t> stop,
                           std::optional<std::int64_t> step) {
  SliceIndices result;
  result.step = step.value_or(1);
  const bool backwards = result.step < 0;
  const auto adjust = [&](std::optional<std::int64_t> value, bool is_start) {
    if (!value) {
      if (is_start) return backwards ? length - 1 : 0;
      return backwards ? -1 : length;
    }
    std::int64_t index = *value;
    if (index < 0) {
      index += length;
      if (index < 0) index = backwards ? -1 : 0;
    } else if (index >= length) {
      index = backwards ? length - 1 : length;
    }
    return index;
  };
  result.start = adjust(start, true);
  result.stop = adjust(stop, false);
  if (backwards) {
    result.count = result.stop < result.start ? (result.start - result.stop - 1) / (-result.step) + 1 : 0;
  } else {
    result.count = result.start < result.stop ? (result.stop - result.start - 1) / result.step + 1 : 0;
  }
  return result;
}

std::string code_point_substr(const std::string& text, std::int64_t start, std::int64_t stop) {
  if (is_ascii(text)) return text.substr(static_cast<std::size_t>(start), static_cast<std::size_t>(stop - start));
  const std::vector<std::size_t> offsets = code_point_offsets(text);
  const std::size_t from = offsets[static_cast<std::size_t>(start)];
  return text.substr(from, offsets[static_cast<std::size_t>(stop)] - from);
}

std::int64_t py_find(const std::string& text, const std::string& sub, std::optional<std::int64_t> start,
                     std::optional<std::int64_t> end, bool reverse) {
  const bool ascii = is_ascii(text);
  const std::vector<std::size_t> offsets = ascii ? std::vector<std::size_t>() : code_point_offsets(text);
  const auto length = static_cast<std::int64_t>(ascii ? text.size() : offsets.size() - 1);
  std::int64_t first = 0;
  std::int64_t last = 0;
  adjust_search_range(length, start, end, first, last);
  const auto sub_length = static_cast<std::int64_t>(code_point_count(sub));
  if (last - first < sub_length) return -1;
  const auto byte_at = [&](std::int64_t index) {
    return ascii ? static_cast<std::size_t>(index) : offsets[static_cast<std::size_t>(index)];
  };
  const std::string window = text.substr(byte_at(first), byte_at(last) - byte_at(first));
  const std::size_t found = reverse ? window.rfind(sub) : window.find(sub);
  if (found == std::string::npos) return -1;
  return first + static_cast<std::int64_t>(code_point_count(window.substr(0, found)));
}

bool py_tailmatch(const std::string& text, const std::string& affix, std::optional<std::int64_t> start,
                  std::optional<std::int64_t> end, bool at_start) {
  const auto length = static_cast<std::int64_t>(code_point_count(text));
  std::int64_t first = 0;
  std::int64_t last = 0;
  adjust_search_range(length, start, end, first, last);
  const auto affix_length = static_cast<std::int64_t>(code_point_count(affix));
  if (last - affix_length < first) return false;
  if (affix_length == 0) return true;
  const std::int64_t from = at_start ? first : last - affix_length;
  return code_point_substr(text, from, from + affix_length) == affix;
}

std::int64_t py_count(const std::string& text, const std::string& sub, std::optional<std::int64_t> start,
                      std::optional<std::int64_t> end) {
  const auto length = static_cast<std::int64_t>(code_point_count(text));
  std::int64_t first = 0;
  std::int64_t last = 0;
  adjust_search_range(length, start, end, first, last);
  if (first > length || last < first) return 0;
  if (sub.empty()) return last - first + 1;
  const std::string window = code_point_substr(text, first, last);
  std::int64_t count = 0;
  for (std::size_t at = window.find(sub); at != std::string::npos; at = window.find(sub, at + sub.size())) ++count;
  return count;
}

}  // namespace selm::jinja::detail
