// Options of online SELM rounds (`selm train`): how prompts are chosen per round, how judged
// candidates become preference pairs, and per-round changes of other settings.
#pragma once

#include <cstdint>
#include <vector>

#include "selm/config/enum_names.hpp"
#include "selm/config/field_checker.hpp"
#include "selm/config/fields.hpp"
#include "selm/config/key_override.hpp"
#include "selm/online/pairing_strategy.hpp"

namespace selm {

// Which training prompts a round uses.
enum class PromptSelection {
  slices,   // round t: the t-th contiguous equal slice
  all,      // every prompt, every round
  shuffle,  // slices of a seeded permutation
};

template <>
struct EnumNames<PromptSelection> {
  static constexpr EnumName<PromptSelection> entries[] = {
      {PromptSelection::slices, "slices"}, {PromptSelection::all, "all"}, {PromptSelection::shuffle, "shuffle"}};
};

struct OnlineConfig {
  std::int64_t rounds = 3;                                  // SELM rounds after the optional offline round 0
  PromptSelection prompt_selection = PromptSelection::slices;
  std::int64_t prompts_per_round = 0;                       // 0: N / rounds (slices, shuffle) or N (all)
  PairingStrategy pairing = PairingStrategy::selm;
  bool offline_round0 = false;                              // round 0 = offline DPO on the dataset's own pairs
  // Element t (0-based; round 0 is the offline round when enabled, otherwise element 0 is round
  // 1): the settings changed for that round, e.g. {train.learning_rate: 1.0e-7}. Rounds past the
  // list's end use the base config.
  std::vector<OverrideList> round_overrides;

  template <class Visitor>
  void visit_fields(Visitor& v) {
    v.field("rounds", rounds, "Online SELM rounds (after the offline round 0, when enabled)");
    v.field("prompt_selection", prompt_selection,
            "Prompts of round t: slices (the t-th contiguous equal slice), all (every prompt each round) or shuffle "
            "(slices of a seeded permutation)");
    v.field("prompts_per_round", prompts_per_round, "Prompts per round; 0 = N / rounds for slices and shuffle, N for all");
    v.field("pairing", pairing,
            "selm: rank the new response with the dataset's chosen and rejected, keep best and worst, new response = "
            "y_ref; best_worst: best and worst of generate.num_samples samples, sample 0 = y_ref");
    v.field("offline_round0", offline_round0, "Run a round 0 of offline preference training on the dataset's own pairs");
    v.field("round_overrides", round_overrides,
            "Per-round settings: item t maps keys to values for round t (counting from 0 when offline_round0 is on, "
            "else from 1), e.g. {train.learning_rate: 1.0e-7} or {train: {learning_rate: 1.0e-7, beta: 0.1}}; the "
            "older string form \"train.learning_rate=1e-7 train.beta=0.1\" still reads");
  }
  void validate(const FieldChecker& check) const;
};

}  // namespace selm
