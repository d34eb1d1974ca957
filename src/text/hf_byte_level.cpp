#include "hf_byte_level.hpp"

#include <array>

#include "hf_unicode.hpp"

namespace selm::hf {
namespace {

bool stands_for_itself(int byte) {
  return (byte >= 0x21 && byte <= 0x7E) || (byte >= 0xA1 && byte <= 0xAC) || (byte >= 0xAE && byte <= 0xFF);
}

struct Alphabet {
  std::array<std::string, 256> encoded;  // UTF-8 of each byte's character
  std::array<int, 0x144> byte_of{};      // inverse, over the characters U+0000..U+0143

  Alphabet() {
    byte_of.fill(-1);
    char32_t next_extra = 0x100;
    for (int byte = 0; byte < 256; ++byte) {
      const char32_t c = stands_for_itself(byte) ? static_cast<char32_t>(byte) : next_extra++;
      append_utf8(encoded[static_cast<std::size_t>(byte)], c);
      byte_of[c] = byte;
    }
  }
};

const Alphabet& alphabet() {
  static const Alphabet table;
  return table;
}

}  // namespace

void append_byte_level(std::string& out, std::string_view bytes) {
  const Alphabet& table = alphabet();
  for (const char byte : bytes) out += table.encoded[static_cast<unsigned char>(byte)];
}

int byte_of_character(char32_t c) { return c < 0x144 ? alphabet().byte_of[c] : -1; }

}  // namespace selm::hf
