#include "selm/judge/pairwise.hpp"

#include <algorithm>
#include <cmath>
#include <cctype>

#include "selm/util/error.hpp"

namespace selm {

std::string render_pairwise_prompt(const std::string& prompt_template, const std::string& prompt,
                                   const std::string& response_a, const std::string& response_b) {
  struct Placeholder {
    const char* name;
    const std::string* value;
  };
  const Placeholder placeholders[] = {{"{prompt}", &prompt}, {"{response_a}", &response_a}, {"{response_b}", &response_b}};
  for (const auto& placeholder : placeholders) {
    if (prompt_template.find(placeholder.name) == std::string::npos) {
      throw InputError(std::string("key 'judge.http.prompt_template': must contain ") + placeholder.name);
    }
  }
  std::string out;
  std::size_t position = 0;
  while (position < prompt_template.size()) {
    bool replaced = false;
    if (prompt_template[position] == '{') {
      for (const auto& placeholder : placeholders) {
        const std::string name = placeholder.name;
        if (prompt_template.compare(position, name.size(), name) == 0) {
          out += *placeholder.value;
          position += name.size();
          replaced = true;
          break;
        }
      }
    }
    if (!replaced) out += prompt_template[position++];
  }
  return out;
}

std::optional<PairVerdict> parse_pair_verdict(const std::string& reply) {
  std::size_t begin = 0;
  std::size_t end = reply.size();
  while (begin < end && std::isspace(static_cast<unsigned char>(reply[begin]))) ++begin;
  while (end > begin && std::isspace(static_cast<unsigned char>(reply[end - 1]))) --end;
  std::string verdict = reply.substr(begin, end - begin);
  if (verdict.size() == 2 && verdict[1] == '.') verdict.pop_back();
  if (verdict == "A") return PairVerdict::first;
  if (verdict == "B") return PairVerdict::second;
  return std::nullopt;
}

double pair_outcome(PairVerdict i_first, PairVerdict j_first) {
  const bool i_wins_when_first = i_first == PairVerdict::first;
  const bool i_wins_when_second = j_first == PairVerdict::second;
  if (i_wins_when_first && i_wins_when_second) return 1.0;
  if (!i_wins_when_first && !i_wins_when_second) return 0.0;
  return 0.5;  // the verdict followed the position, not the content
}

Judgment judgment_from_pairwise(std::size_t num_candidates,
                                const std::vector<std::pair<std::size_t, std::size_t>>& pairs,
                                const std::vector<double>& outcomes) {
  std::vector<double> wins(num_candidates, 0.0);
  std::size_t ties = 0;
  for (std::size_t k = 0; k < pairs.size(); ++k) {
    wins[pairs[k].first] += outcomes[k];
    wins[pairs[k].second] += 1.0 - outcomes[k];
    if (outcomes[k] == 0.5) ++ties;
  }
  if (num_candidates >= 2 && std::all_of(wins.begin(), wins.end(), [&](double w) { return w == wins[0]; })) {
    Judgment judgment = abstained_judgment("no preference: all candidates tied (" + std::to_string(ties) + " of " +
                                           std::to_string(pairs.size()) + " pairs flipped with the order)");
    judgment.scores = wins;
    return judgment;
  }
  return judgment_from_scores(wins);
}

double retry_delay_seconds(std::int64_t retry, double initial_seconds, double max_seconds, double unit_random,
                           std::optional<double> retry_after_seconds) {
  if (retry_after_seconds) return *retry_after_seconds;
  const double exponential = std::min(max_seconds, initial_seconds * std::pow(2.0, static_cast<double>(retry)));
  return exponential * (0.5 + 0.5 * unit_random);
}

std::optional<double> parse_retry_after(const std::string& value) {
  if (value.empty()) return std::nullopt;
  try {
    std::size_t used = 0;
    const double seconds = std::stod(value, &used);
    if (used != value.size() || !std::isfinite(seconds) || seconds < 0) return std::nullopt;
    return seconds;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

}  // namespace selm
