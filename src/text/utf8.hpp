// UTF-8 encoding shared by the text code (the tokenizer.json pipeline and the Jinja engine).
#pragma once

#include <string>

namespace selm::utf8 {

// Appends the UTF-8 bytes of `code_point` (at most U+10FFFF; callers pass decoded text).
void append(std::string& out, char32_t code_point);

}  // namespace selm::utf8
