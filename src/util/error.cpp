#include "selm/util/error.hpp"

namespace selm {

std::string location_prefix(const std::string& file, std::size_t line) {
  if (file.empty()) return "";
  if (line == 0) return file + ": ";
  return file + ":" + std::to_string(line) + ": ";
}

void throw_input_error(const std::string& file, std::size_t line, const std::string& message) {
  throw InputError(location_prefix(file, line) + message);
}

}  // namespace selm
