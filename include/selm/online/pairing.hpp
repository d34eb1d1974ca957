// Pairing: how a round's judged candidates become preference pairs (or none), as pure functions
// of the prompts, the generations and the judgments.
//
// selm (SELM.md, Algorithm 1): candidates are [new response, dataset chosen, dataset rejected];
//   the best becomes chosen and the worst rejected. Ties favour the new response: it is chosen
//   when it shares the best rank, and a dataset response is rejected before it when they share
//   the worst rank. The new response is always kept as y_ref.
// best_worst: candidates are n samples of the policy; the best (lowest index among equals) is
//   chosen, the worst (highest index among equals) rejected; sample 0 is y_ref.
// A judgment that is not ok gives no pair; neither does one whose candidates all share a rank,
// one whose chosen and rejected are the same text, nor one with an empty response among
// chosen, rejected and y_ref.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "selm/data/records.hpp"
#include "selm/generate/generation_file.hpp"
#include "selm/judge/judge.hpp"
#include "selm/judge/judgment.hpp"
#include "selm/online/pairing_strategy.hpp"
#include "selm/online/train_prompts.hpp"
#include "selm/run/pairing_counts.hpp"

namespace selm {

// Responses generated per prompt: 1 (selm) or generate.num_samples (best_worst).
std::int64_t samples_per_prompt(PairingStrategy strategy, std::int64_t num_samples);

struct PairingDecision {
  PairingOutcome outcome = PairingOutcome::failed;
  std::int64_t chosen = -1;    // candidate index (pair only)
  std::int64_t rejected = -1;  // candidate index (pair only)
};

// The same rule serves both strategies; they differ in what the candidates are.
PairingDecision decide_pair(const Judgment& judgment);

// What the judge ranks for each prompt, one request per prompt (id = the prompt's position):
// {new response, dataset chosen, dataset rejected} (selm) or the prompt's samples
// (best_worst). `generations` hold samples_per_prompt records per prompt, in prompt order;
// std::runtime_error naming `generations_file` otherwise.
std::vector<JudgeRequest> candidate_requests(const std::vector<TrainPrompt>& prompts,
                                             const std::vector<GenerationRecord>& generations,
                                             PairingStrategy strategy, std::int64_t samples,
                                             const std::string& generations_file);

// One line of preferences.jsonl: the pair, the prompt's dataset index and, for online rounds,
// the log-prob that the generating model (the round's reference) gave y_ref.
struct RoundPreference {
  PreferenceRecord record;
  std::int64_t dataset_index = 0;
  std::optional<double> reference_response_logprob;
};

struct PairedRound {
  std::vector<RoundPreference> preferences;
  PairingCounts counts;
};

// The pairs of an online round: `judgments[i]` ranks the candidates of `requests[i]`
// (candidate_requests of the same prompts and generations); y_ref is prompt i's first sample.
PairedRound pair_judged_candidates(const std::vector<TrainPrompt>& prompts,
                                   const std::vector<GenerationRecord>& generations,
                                   const std::vector<JudgeRequest>& requests, const std::vector<Judgment>& judgments,
                                   std::int64_t samples);

// The dataset's own pairs of the prompts (offline round 0): one pair per prompt.
PairedRound dataset_pairs(const std::vector<TrainPrompt>& prompts);

// preferences.jsonl's text: one record per line (preference_record_to_json with dataset_index
// and, when known, reference_response_logprob).
std::string preferences_jsonl(const std::vector<RoundPreference>& preferences);

}  // namespace selm
