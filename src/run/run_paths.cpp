#include "selm/run/run_paths.hpp"

#include <regex>

namespace selm {

std::string round_dir_name(std::int64_t round) { return "round-" + std::to_string(round); }

std::optional<std::int64_t> round_of_dir_name(const std::string& name) {
  static const std::regex pattern("round-([0-9]+)");
  std::smatch match;
  if (!std::regex_match(name, match, pattern)) return std::nullopt;
  return std::stoll(match[1].str());
}

}  // namespace selm
