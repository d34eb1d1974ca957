// GPT-2's byte-level alphabet: each of the 256 byte values stands for one printable character
// (printable Latin-1 bytes for themselves, the others for U+0100 onwards), so that byte-level
// vocabularies are ordinary strings ("Ġ" is the space byte, "Ċ" the newline).
#pragma once

#include <string>
#include <string_view>

namespace selm::hf {

// Appends the alphabet characters of `bytes`.
void append_byte_level(std::string& out, std::string_view bytes);

// The byte an alphabet character stands for, or -1 for a character outside the alphabet.
int byte_of_character(char32_t c);

}  // namespace selm::hf
