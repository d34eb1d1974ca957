// The lexicon judge: sentiment from the VADER lexicon (Hutto & Gilbert 2014; vendored in
// third_party/vader with its license). A simplified reading of the VADER rules, stated here and
// in docs/judges.md so that scores can be checked by hand:
//
// 1. Tokens: the text split on whitespace. A token is looked up as written (emoticons such as
//    ":D" are case-sensitive), then lowercased, then lowercased with leading and trailing
//    punctuation removed ("Great," -> "great"). Unknown tokens have valence 0.
// 2. Valence: the lexicon's mean human rating of the token, in -4 .. +4 (when a token has two
//    lines, the later one wins, as in the reference implementation).
// 3. Intensifiers (optional): if the previous word is a booster ("very", "extremely", ...) the
//    valence moves 0.293 away from zero; after a dampener ("slightly", "barely", ...) it moves
//    0.293 toward zero, stopping at zero.
// 4. Negation (optional): if one of the 3 previous words is a negator ("not", "never",
//    "without", "cannot", "nor", "neither", "nothing", "nobody", "nowhere", "none" or a word
//    ending in "n't"), the valence is multiplied by -0.74 (after step 3). "no" is not a negator:
//    the lexicon rates it (-1.2).
// 5. Normalisation: the valences are summed to S and mapped to (-1, 1) by S / sqrt(S^2 + 15),
//    VADER's "compound" score.
// 6. Length: only sentiment-bearing words count, so neutral words do not dilute a response;
//    each further sentiment word pushes the score further out, with diminishing effect as the
//    normalisation saturates (one "good" 0.440, two 0.700).
// 7. Target: positive scores the compound as is, negative its negation. Scores are rounded to 6
//    decimals, candidates are ranked by score, and equal scores share a rank.
// Not handled (unlike full VADER): capitalisation and "!" emphasis, "but" shifts, idioms.
#include "selm/judge/lexicon_judge.hpp"

#include <cctype>
#include <chrono>
#include <cmath>
#include <fstream>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "selm/util/error.hpp"
#include "selm/util/files.hpp"
#include "selm/util/sha256.hpp"

namespace selm {
namespace {

constexpr double booster_step = 0.293;     // VADER's B_INCR
constexpr double negation_scale = -0.74;   // VADER's N_SCALAR
constexpr double normalisation_alpha = 15.0;
constexpr int negation_window = 3;

const std::set<std::string>& boosters() {
  static const std::set<std::string> words = {"absolutely", "completely", "deeply", "especially", "extremely",
                                              "highly", "incredibly", "really", "so", "totally", "very"};
  return words;
}

const std::set<std::string>& dampeners() {
  static const std::set<std::string> words = {"barely", "hardly", "marginally", "partly", "scarcely",
                                              "slightly", "somewhat"};
  return words;
}

bool is_negator(const std::string& word) {
  static const std::set<std::string> words = {"not", "never", "without", "cannot", "nor", "neither",
                                              "nothing", "nobody", "nowhere", "none"};
  if (words.count(word) == 1) return true;
  return word.size() > 3 && word.compare(word.size() - 3, 3, "n't") == 0;
}

std::string lowercase(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

std::string strip_punctuation(const std::string& token) {
  std::size_t begin = 0;
  std::size_t end = token.size();
  while (begin < end && std::ispunct(static_cast<unsigned char>(token[begin]))) ++begin;
  while (end > begin && std::ispunct(static_cast<unsigned char>(token[end - 1]))) --end;
  return token.substr(begin, end - begin);
}

}  // namespace

SentimentLexicon SentimentLexicon::load(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) throw InputError(location_prefix(path.string()) + "cannot open the sentiment lexicon");
  SentimentLexicon lexicon;
  std::string line;
  std::size_t line_number = 0;
  while (std::getline(in, line)) {
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    const std::size_t tab = line.find('\t');
    if (tab == 0 || tab == std::string::npos) throw_input_error(path.string(), line_number, "expected TOKEN<TAB>MEAN<TAB>...");
    const std::size_t next_tab = line.find('\t', tab + 1);
    const std::string mean_text = line.substr(tab + 1, next_tab == std::string::npos ? std::string::npos : next_tab - tab - 1);
    double mean = 0.0;
    try {
      std::size_t used = 0;
      mean = std::stod(mean_text, &used);
      if (used != mean_text.size()) throw std::invalid_argument("trailing text");
    } catch (const std::exception&) {
      throw_input_error(path.string(), line_number, "mean rating '" + mean_text + "' is not a number");
    }
    lexicon.valence_[line.substr(0, tab)] = mean;
  }
  if (lexicon.valence_.empty()) throw InputError(location_prefix(path.string()) + "the sentiment lexicon is empty");
  return lexicon;
}

std::filesystem::path SentimentLexicon::default_path() {
  return std::filesystem::path(SELM_SOURCE_DIR) / "third_party" / "vader" / "vader_lexicon.txt";
}

double SentimentLexicon::valence(const std::string& token) const {
  auto it = valence_.find(token);
  return it == valence_.end() ? 0.0 : it->second;
}

bool SentimentLexicon::contains(const std::string& token) const { return valence_.count(token) == 1; }

double sentiment_score(const SentimentLexicon& lexicon, const std::string& text, bool negation, bool intensifiers) {
  std::istringstream stream(text);
  std::vector<std::string> words;  // lowercased, punctuation stripped: for the context rules
  std::string token;
  double sum = 0.0;
  while (stream >> token) {
    const std::string lower = lowercase(token);
    const std::string word = strip_punctuation(lower);
    words.push_back(word);
    double valence = 0.0;
    if (lexicon.contains(token)) valence = lexicon.valence(token);
    else if (lexicon.contains(lower)) valence = lexicon.valence(lower);
    else if (!word.empty()) valence = lexicon.valence(word);
    if (valence == 0.0) continue;

    const std::size_t i = words.size() - 1;
    if (intensifiers && i >= 1) {
      const std::string& previous = words[i - 1];
      const double direction = valence > 0 ? 1.0 : -1.0;
      if (boosters().count(previous) == 1) {
        valence += direction * booster_step;
      } else if (dampeners().count(previous) == 1) {
        valence = direction * std::max(0.0, std::fabs(valence) - booster_step);
      }
    }
    if (negation) {
      for (int back = 1; back <= negation_window && static_cast<std::size_t>(back) <= i; ++back) {
        if (is_negator(words[i - back])) {
          valence *= negation_scale;
          break;
        }
      }
    }
    sum += valence;
  }
  return sum / std::sqrt(sum * sum + normalisation_alpha);
}

namespace {
std::filesystem::path lexicon_path_of(const LexiconJudgeConfig& config) {
  return config.lexicon_path.empty() ? SentimentLexicon::default_path() : std::filesystem::path(config.lexicon_path);
}
}  // namespace

LexiconJudge::LexiconJudge(const LexiconJudgeConfig& config)
    : config_(config), lexicon_(SentimentLexicon::load(lexicon_path_of(config))) {
  // The lexicon's content, not its path, decides the scores.
  nlohmann::json identity = {{"type", "lexicon"},
                             {"lexicon_sha256", sha256_hex(read_file(lexicon_path_of(config)))},
                             {"target", enum_name(config_.target)},
                             {"negation", config_.negation},
                             {"intensifiers", config_.intensifiers}};
  config_hash_ = sha256_hex(identity.dump()).substr(0, 16);
}

double LexiconJudge::score(const std::string& response) const {
  double compound = sentiment_score(lexicon_, response, config_.negation, config_.intensifiers);
  if (config_.target == SentimentTarget::negative) compound = -compound;
  const double rounded = std::round(compound * 1e6) / 1e6;
  return rounded == 0.0 ? 0.0 : rounded;  // no "-0" in the output
}

std::vector<Judgment> LexiconJudge::rank_batch(const std::vector<JudgeRequest>& batch) {
  std::vector<Judgment> judgments;
  judgments.reserve(batch.size());
  for (const auto& request : batch) {
    const auto start = std::chrono::steady_clock::now();
    std::vector<double> scores;
    scores.reserve(request.candidates.size());
    for (const auto& candidate : request.candidates) scores.push_back(score(candidate));
    judgments.push_back(judgment_from_scores(scores));
    record_request(false, true, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  return judgments;
}

}  // namespace selm
