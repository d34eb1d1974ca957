#include "selm/online/pairing.hpp"

#include <algorithm>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "selm/eval/evaluation.hpp"
#include "selm/util/error.hpp"

namespace selm {

namespace {

// The candidates of prompt i, in the order the judge ranks them.
std::vector<std::string> candidates_of(const TrainPrompt& prompt, const std::vector<GenerationRecord>& generations,
                                       std::size_t i, PairingStrategy strategy, std::int64_t samples) {
  if (strategy == PairingStrategy::selm) return {generations[i].response, prompt.chosen, prompt.rejected};
  std::vector<std::string> candidates;
  for (std::int64_t s = 0; s < samples; ++s) {
    candidates.push_back(generations[i * static_cast<std::size_t>(samples) + static_cast<std::size_t>(s)].response);
  }
  return candidates;
}

// decide_pair, then the rules that need the texts: the same text on both sides teaches
// nothing (a tie), and a preference record cannot carry an empty response.
PairingOutcome final_outcome(const PairingDecision& decision, const std::vector<std::string>& candidates,
                             const std::string& y_ref) {
  if (decision.outcome != PairingOutcome::pair) return decision.outcome;
  const std::string& chosen = candidates[static_cast<std::size_t>(decision.chosen)];
  const std::string& rejected = candidates[static_cast<std::size_t>(decision.rejected)];
  if (chosen == rejected) return PairingOutcome::tie;
  if (y_ref.empty() || chosen.empty() || rejected.empty()) return PairingOutcome::empty;
  return PairingOutcome::pair;
}

}  // namespace

std::int64_t samples_per_prompt(PairingStrategy strategy, std::int64_t num_samples) {
  return strategy == PairingStrategy::selm ? 1 : num_samples;
}

PairingDecision decide_pair(const Judgment& judgment) {
  PairingDecision decision;
  if (judgment.status == JudgmentStatus::abstained) {
    decision.outcome = PairingOutcome::abstained;
    return decision;
  }
  if (judgment.status != JudgmentStatus::ok || judgment.ranks.size() < 2) {
    decision.outcome = PairingOutcome::failed;
    return decision;
  }
  const auto& ranks = judgment.ranks;
  const std::int64_t best_rank = *std::min_element(ranks.begin(), ranks.end());
  const std::int64_t worst_rank = *std::max_element(ranks.begin(), ranks.end());
  if (best_rank == worst_rank) {
    decision.outcome = PairingOutcome::tie;
    return decision;
  }
  const auto count = static_cast<std::int64_t>(ranks.size());
  // Chosen: the lowest index with the best rank (the new response is index 0 under selm).
  for (std::int64_t index = 0; index < count; ++index) {
    if (ranks[static_cast<std::size_t>(index)] == best_rank) {
      decision.chosen = index;
      break;
    }
  }
  // Rejected: the highest index with the worst rank, so that under selm a dataset response is
  // rejected before the new one when they tie for worst.
  for (std::int64_t index = count - 1; index >= 0; --index) {
    if (ranks[static_cast<std::size_t>(index)] == worst_rank) {
      decision.rejected = index;
      break;
    }
  }
  decision.outcome = PairingOutcome::pair;
  return decision;
}

std::vector<JudgeRequest> candidate_requests(const std::vector<TrainPrompt>& prompts,
                                             const std::vector<GenerationRecord>& generations,
                                             PairingStrategy strategy, std::int64_t samples,
                                             const std::string& generations_file) {
  if (static_cast<std::int64_t>(generations.size()) != static_cast<std::int64_t>(prompts.size()) * samples) {
    throw std::runtime_error(generations_file + ": expected " +
                             std::to_string(prompts.size() * static_cast<std::size_t>(samples)) + " records, found " +
                             std::to_string(generations.size()));
  }
  std::vector<JudgeRequest> requests;
  for (std::size_t i = 0; i < prompts.size(); ++i) {
    JudgeRequest request;
    request.id = std::to_string(i);
    request.prompt = prompt_text_for_judge(prompts[i].messages);
    request.candidates = candidates_of(prompts[i], generations, i, strategy, samples);
    requests.push_back(std::move(request));
  }
  return requests;
}

PairedRound pair_judged_candidates(const std::vector<TrainPrompt>& prompts,
                                   const std::vector<GenerationRecord>& generations,
                                   const std::vector<JudgeRequest>& requests, const std::vector<Judgment>& judgments,
                                   std::int64_t samples) {
  if (requests.size() != prompts.size() || judgments.size() != prompts.size() ||
      generations.size() != prompts.size() * static_cast<std::size_t>(samples)) {
    throw std::invalid_argument("pair_judged_candidates: " + std::to_string(prompts.size()) + " prompts, " +
                                std::to_string(generations.size()) + " generations, " +
                                std::to_string(requests.size()) + " requests, " + std::to_string(judgments.size()) +
                                " judgments");
  }
  PairedRound round;
  for (std::size_t i = 0; i < prompts.size(); ++i) {
    const std::vector<std::string>& candidates = requests[i].candidates;
    // y_ref: the new response (selm) or sample 0 (best_worst), with its generated ids and the
    // log-prob the generating model (this round's reference) gave them.
    const GenerationRecord& y_ref = generations[i * static_cast<std::size_t>(samples)];
    const PairingDecision decision = decide_pair(judgments[i]);
    const PairingOutcome outcome = final_outcome(decision, candidates, y_ref.response);
    round.counts.add(outcome);
    if (outcome != PairingOutcome::pair) continue;
    RoundPreference preference;
    preference.record.prompt = prompts[i].messages;
    preference.record.chosen = candidates[static_cast<std::size_t>(decision.chosen)];
    preference.record.rejected = candidates[static_cast<std::size_t>(decision.rejected)];
    preference.record.reference_response = y_ref.response;
    preference.record.reference_response_ids = y_ref.token_ids;
    preference.dataset_index = prompts[i].dataset_index;
    preference.reference_response_logprob = y_ref.logprob;
    round.preferences.push_back(std::move(preference));
  }
  return round;
}

PairedRound dataset_pairs(const std::vector<TrainPrompt>& prompts) {
  PairedRound round;
  for (const TrainPrompt& prompt : prompts) {
    RoundPreference preference;
    preference.record.prompt = prompt.messages;
    preference.record.chosen = prompt.chosen;
    preference.record.rejected = prompt.rejected;
    preference.dataset_index = prompt.dataset_index;
    round.preferences.push_back(std::move(preference));
    round.counts.add(PairingOutcome::pair);
  }
  return round;
}

std::string preferences_jsonl(const std::vector<RoundPreference>& preferences) {
  std::string text;
  for (const RoundPreference& preference : preferences) {
    nlohmann::json value = preference_record_to_json(preference.record);
    if (preference.reference_response_logprob) value["reference_response_logprob"] = *preference.reference_response_logprob;
    value["dataset_index"] = preference.dataset_index;
    text += value.dump() + "\n";
  }
  return text;
}

}  // namespace selm
