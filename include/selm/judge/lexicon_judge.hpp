// The built-in sentiment judge: scores responses with the human-rated VADER lexicon
// (third_party/vader) and ranks them by score. Rules in src/judge/lexicon_judge.cpp and
// docs/judges.md.
#pragma once

#include <filesystem>
#include <string>
#include <unordered_map>
#include <vector>

#include "selm/judge/judge.hpp"
#include "selm/judge/judge_config.hpp"

namespace selm {

// TOKEN -> mean valence (-4 .. +4). When a token has several lines the last one wins.
class SentimentLexicon {
 public:
  // Reads `TOKEN<TAB>MEAN<TAB>...` lines; malformed lines are InputErrors naming FILE:LINE.
  static SentimentLexicon load(const std::filesystem::path& path);
  // The vendored lexicon, third_party/vader/vader_lexicon.txt.
  static std::filesystem::path default_path();

  // Valence of `token` as written, else lowercased; 0 when unknown.
  double valence(const std::string& token) const;
  bool contains(const std::string& token) const;
  std::size_t size() const { return valence_.size(); }

 private:
  std::unordered_map<std::string, double> valence_;
};

// Sentiment of a text in (-1, 1): positive = happy. `negation` / `intensifiers` as in
// LexiconJudgeConfig.
double sentiment_score(const SentimentLexicon& lexicon, const std::string& text, bool negation = true,
                       bool intensifiers = true);

class LexiconJudge : public Judge {
 public:
  explicit LexiconJudge(const LexiconJudgeConfig& config);
  std::string id() const override { return "lexicon"; }
  std::string config_hash() const override { return config_hash_; }
  // Score of one response toward the target (higher = better), rounded to 6 decimals.
  double score(const std::string& response) const;

 protected:
  std::vector<Judgment> rank_batch(const std::vector<JudgeRequest>& batch) override;

 private:
  LexiconJudgeConfig config_;
  SentimentLexicon lexicon_;
  std::string config_hash_;
};

}  // namespace selm
