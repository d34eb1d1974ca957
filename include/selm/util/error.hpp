// Error types shared by the whole library.
//
// Library code throws; only main() catches and maps to an exit code (STYLE.md 10):
//   InputError (a std::invalid_argument)  -> exit 2: bad config, dataset, checkpoint, tokenizer,
//                                            judge reply or command-line argument;
//   any other std::exception               -> exit 1: the environment failed (I/O, network, ...).
// Messages name the file, line and key so that the user can fix the input without a debugger.
#pragma once

#include <cstddef>
#include <stdexcept>
#include <string>

namespace selm {

class InputError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

// "FILE:LINE: " (or "FILE: " when line is 0), the prefix every located message starts with.
std::string location_prefix(const std::string& file, std::size_t line = 0);

// Throws InputError("FILE:LINE: message").
[[noreturn]] void throw_input_error(const std::string& file, std::size_t line, const std::string& message);

}  // namespace selm
