#include "jinja_unicode.hpp"

#include "utf8.hpp"

namespace selm::jinja::detail {
namespace {

struct Range {
  char32_t first;
  char32_t last;
};

// Blocks whose characters have no case at all (letters of caseless scripts, punctuation, symbols,
// emoji, private use): every case mapping is the identity. (The enclosed alphanumerics around
// U+1F130 are left out: Python counts them as uppercase.)
constexpr Range kCaselessRanges[] = {
    {0x0590, 0x08FF},   {0x0900, 0x0DFF},   {0x0E00, 0x0FFF},   {0x1100, 0x11FF},   {0x2000, 0x206F},
    {0x20A0, 0x20FF},   {0x2190, 0x245F},   {0x2500, 0x2BFF},   {0x2E80, 0x2FDF},   {0x2FF0, 0x33FF},
    {0x3400, 0x4DBF},   {0x4DC0, 0x4DFF},   {0x4E00, 0x9FFF},   {0xA000, 0xA4CF},   {0xAC00, 0xD7FF},
    {0xE000, 0xF8FF},   {0xF900, 0xFAFF},   {0xFE00, 0xFE0F},   {0xFE30, 0xFE4F},   {0xFE50, 0xFE6F},
    {0xFF00, 0xFF20},   {0xFF3B, 0xFF40},   {0xFF5B, 0xFFEF},   {0x1F000, 0x1F0FF}, {0x1F200, 0x1FAFF},
    {0x20000, 0x3FFFF},
    {0xE0000, 0xE01EF}, {0xF0000, 0x10FFFF},
};

// Characters str.isprintable() accepts (assigned, not a control, format, separator or private-use
// character), as of the Unicode version of Python 3.11.
constexpr Range kPrintableRanges[] = {
    {0x0020, 0x007E},   {0x00A1, 0x00AC},   {0x00AE, 0x0377},   {0x037A, 0x037F},   {0x0384, 0x038A},
    {0x038C, 0x038C},   {0x038E, 0x03A1},   {0x03A3, 0x052F},   {0x2010, 0x2027},   {0x2030, 0x205E},
    {0x2190, 0x2426},   {0x2500, 0x2B73},   {0x3001, 0x303F},   {0x3041, 0x3096},   {0x3099, 0x30FF},
    {0x4E00, 0x9FFF},   {0xAC00, 0xD7A3},   {0xFF01, 0xFFBE},   {0x1F300, 0x1F6D7}, {0x1F900, 0x1F9FF},
};

// Characters str.isprintable() rejects.
constexpr Range kUnprintableRanges[] = {
    {0x0000, 0x001F}, {0x007F, 0x00A0}, {0x00AD, 0x00AD}, {0x2000, 0x200F}, {0x2028, 0x202F},
    {0x205F, 0x206F}, {0x3000, 0x3000}, {0xD800, 0xF8FF}, {0xFEFF, 0xFEFF}, {0xFFF0, 0xFFFB},
    {0xE0000, 0xE007F}, {0xF0000, 0x10FFFF},
};

template <std::size_t N>
bool in_ranges(const Range (&ranges)[N], char32_t code_point) {
  for (const Range& range : ranges)
    if (code_point >= range.first && code_point <= range.last) return true;
  return false;
}

// One character's simple case pair within the tables; `known` false outside them.
struct CasePair {
  bool known = false;
  Case kind = Case::caseless;
  char32_t lower = 0;
  char32_t upper = 0;
};

CasePair caseless(char32_t c) { return {true, Case::caseless, c, c}; }
CasePair upper_letter(char32_t c, char32_t lower) { return {true, Case::upper, lower, c}; }
CasePair lower_letter(char32_t c, char32_t upper) { return {true, Case::lower, c, upper}; }

// Pairs laid out capital, small, capital, small... from `first`.
CasePair alternating(char32_t c, char32_t first) {
  if ((c - first) % 2 == 0) return upper_letter(c, c + 1);
  return lower_letter(c, c - 1);
}

CasePair latin_extended_a(char32_t c) {
  if (c <= 0x12F || (c >= 0x132 && c <= 0x137) || (c >= 0x14A && c <= 0x177))
    return alternating(c, 0x100);
  if ((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E)) return alternating(c, 0x139);
  switch (c) {
    case 0x130: return upper_letter(c, c);  // İ: its full lowercase is two characters (below)
    case 0x131: return lower_letter(c, 'I');
    case 0x138: return lower_letter(c, c);  // ĸ has no capital
    case 0x149: return lower_letter(c, c);  // ŉ: its uppercase is two characters (below)
    case 0x178: return upper_letter(c, 0xFF);
    case 0x17F: return lower_letter(c, 'S');
    default: return {};
  }
}

CasePair greek(char32_t c) {
  if ((c >= 0x391 && c <= 0x3A1) || (c >= 0x3A4 && c <= 0x3AB)) return upper_letter(c, c + 0x20);
  if ((c >= 0x3B1 && c <= 0x3C1) || (c >= 0x3C4 && c <= 0x3CB)) return lower_letter(c, c - 0x20);
  switch (c) {
    case 0x3A3: return upper_letter(c, 0x3C3);  // lower() depends on the context (final sigma)
    case 0x3C2: return lower_letter(c, 0x3A3);
    case 0x3C3: return lower_letter(c, 0x3A3);
    case 0x386: return upper_letter(c, 0x3AC);
    case 0x3AC: return lower_letter(c, 0x386);
    case 0x388: case 0x389: case 0x38A: return upper_letter(c, c + 0x25);
    case 0x3AD: case 0x3AE: case 0x3AF: return lower_letter(c, c - 0x25);
    case 0x38C: return upper_letter(c, 0x3CC);
    case 0x3CC: return lower_letter(c, 0x38C);
    case 0x38E: case 0x38F: return upper_letter(c, c + 0x3F);
    case 0x3CD: case 0x3CE: return lower_letter(c, c - 0x3F);
    case 0x390: case 0x3B0: return lower_letter(c, c);  // uppercase is three characters (below)
    default: return {};
  }
}

CasePair cyrillic(char32_t c) {
  if (c >= 0x400 && c <= 0x40F) return upper_letter(c, c + 0x50);
  if (c >= 0x410 && c <= 0x42F) return upper_letter(c, c + 0x20);
  if (c >= 0x430 && c <= 0x44F) return lower_letter(c, c - 0x20);
  if (c >= 0x450 && c <= 0x45F) return lower_letter(c, c - 0x50);
  if ((c >= 0x460 && c <= 0x481) || (c >= 0x48A && c <= 0x4BF) || (c >= 0x4D0 && c <= 0x52F))
    return alternating(c, 0x460);
  if (c >= 0x482 && c <= 0x489) return caseless(c);
  if (c >= 0x4C1 && c <= 0x4CE) return alternating(c, 0x4C1);
  if (c == 0x4C0) return upper_letter(c, 0x4CF);
  if (c == 0x4CF) return lower_letter(c, 0x4C0);
  return {};
}

CasePair case_pair(char32_t c) {
  if (c < 0x80) {
    if (c >= 'A' && c <= 'Z') return upper_letter(c, c + 0x20);
    if (c >= 'a' && c <= 'z') return lower_letter(c, c - 0x20);
    return caseless(c);
  }
  if (c < 0x100) {
    if (c == 0xD7 || c == 0xF7) return caseless(c);
    if (c >= 0xC0 && c <= 0xDE) return upper_letter(c, c + 0x20);
    if (c == 0xDF) return lower_letter(c, c);  // ß: uppercase "SS" (below)
    if (c >= 0xE0 && c <= 0xFE) return lower_letter(c, c - 0x20);
    if (c == 0xFF) return lower_letter(c, 0x178);
    if (c == 0xB5) return lower_letter(c, 0x39C);
    if (c == 0xAA || c == 0xBA) return {true, Case::unknown, c, c};  // lowercase without a mapping
    return caseless(c);
  }
  if (c < 0x180) return latin_extended_a(c);
  if (c >= 0x370 && c < 0x400) return greek(c);
  if (c >= 0x400 && c < 0x530) return cyrillic(c);
  if (c >= 0xFF21 && c <= 0xFF3A) return upper_letter(c, c + 0x20);
  if (c >= 0xFF41 && c <= 0xFF5A) return lower_letter(c, c - 0x20);
  if (in_ranges(kCaselessRanges, c)) return caseless(c);
  return {};
}

}  // namespace

std::u32string decode_utf8(const std::string& text) {
  std::u32string out;
  out.reserve(text.size());
  const auto* bytes = reinterpret_cast<const unsigned char*>(text.data());
  const std::size_t size = text.size();
  std::size_t i = 0;
  while (i < size) {
    const unsigned char lead = bytes[i];
    std::size_t length = 0;
    char32_t code_point = 0;
    if (lead < 0x80) {
      out.push_back(lead);
      ++i;
      continue;
    }
    if ((lead & 0xE0) == 0xC0) length = 2, code_point = lead & 0x1F;
    else if ((lead & 0xF0) == 0xE0) length = 3, code_point = lead & 0x0F;
    else if ((lead & 0xF8) == 0xF0) length = 4, code_point = lead & 0x07;
    bool valid = length != 0 && i + length <= size;
    for (std::size_t k = 1; valid && k < length; ++k) {
      if ((bytes[i + k] & 0xC0) != 0x80) valid = false;
      else code_point = (code_point << 6) | (bytes[i + k] & 0x3F);
    }
    if (!valid) {
      out.push_back(lead);
      ++i;
      continue;
    }
    out.push_back(code_point);
    i += length;
  }
  return out;
}

void append_utf8(char32_t c, std::string& out) { utf8::append(out, c); }

std::string encode_utf8(const char32_t* first, const char32_t* last) {
  std::string out;
  out.reserve(static_cast<std::size_t>(last - first));
  for (const char32_t* c = first; c != last; ++c) append_utf8(*c, out);
  return out;
}

std::string encode_utf8(const std::u32string& code_points) {
  return encode_utf8(code_points.data(), code_points.data() + code_points.size());
}

bool is_ascii(const std::string& text) {
  for (const char c : text)
    if (static_cast<unsigned char>(c) >= 0x80) return false;
  return true;
}

std::size_t code_point_count(const std::string& text) {
  if (is_ascii(text)) return text.size();
  return decode_utf8(text).size();
}

bool is_space(char32_t c) {
  if (c < 0x80) return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20);
  return c == 0x85 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 ||
         c == 0x202F || c == 0x205F || c == 0x3000;
}

bool is_line_boundary(char32_t c) {
  return c == '\n' || c == '\r' || c == 0x0B || c == 0x0C || c == 0x1C || c == 0x1D || c == 0x1E || c == 0x85 ||
         c == 0x2028 || c == 0x2029;
}

Case case_of(char32_t c) {
  const CasePair pair = case_pair(c);
  if (!pair.known) return Case::unknown;
  return pair.kind;
}

std::optional<std::u32string> lower_case(char32_t c) {
  if (c == 0x130) return std::u32string{U'i', 0x307};
  if (c == 0x3A3) return std::nullopt;  // σ or ς depending on the neighbours
  const CasePair pair = case_pair(c);
  if (!pair.known) return std::nullopt;
  return std::u32string(1, pair.lower);
}

std::optional<std::u32string> upper_case(char32_t c) {
  switch (c) {
    case 0xDF: return std::u32string{U'S', U'S'};
    case 0x149: return std::u32string{0x2BC, U'N'};
    case 0x390: return std::u32string{0x399, 0x308, 0x301};
    case 0x3B0: return std::u32string{0x3A5, 0x308, 0x301};
    default: break;
  }
  const CasePair pair = case_pair(c);
  if (!pair.known) return std::nullopt;
  return std::u32string(1, pair.upper);
}

std::optional<std::u32string> title_case(char32_t c) {
  if (c == 0xDF) return std::u32string{U'S', U's'};
  return upper_case(c);
}

std::optional<bool> is_printable(char32_t c) {
  if (in_ranges(kPrintableRanges, c)) return true;
  if (in_ranges(kUnprintableRanges, c)) return false;
  return std::nullopt;
}

}  // namespace selm::jinja::detail
