#include "selm/util/json_depth.hpp"

#include "selm/util/error.hpp"

namespace selm {

void require_json_depth_within(std::string_view text, const std::string& path, std::size_t max_depth) {
  std::size_t depth = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;  // the escaped character cannot end the string
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > max_depth) {
        throw_input_error(path, 0, "JSON nested deeper than " + std::to_string(max_depth) + " levels (at byte " +
                                       std::to_string(i) + ")");
      }
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
}

}  // namespace selm
