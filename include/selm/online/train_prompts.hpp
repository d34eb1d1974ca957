// The training prompts of `selm train` (data.train_file, parsed once per run) and the choice of
// each round's prompts (online.prompt_selection).
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "selm/online/online_config.hpp"
#include "selm/text/chat_template.hpp"

namespace selm {

// One prompt of the training set: where it came from, its conversation and, when the run
// needs them, the dataset's own chosen and rejected responses.
struct TrainPrompt {
  std::int64_t dataset_index = 0;
  std::size_t line = 0;
  nlohmann::json record;              // the line as read
  std::vector<ChatMessage> messages;  // the prompt
  std::string chosen;                 // the dataset's pair (selm pairing, offline round 0); else empty
  std::string rejected;
};

// The record's "prompt" when it has one, else the conversation: what generation records store.
nlohmann::json prompt_value(const TrainPrompt& prompt);

// Every record of `train_file`, parsed as a preference record (`with_pairs`) or a prompt
// record. InputError naming FILE:LINE for a malformed record, and for a file without records.
std::vector<TrainPrompt> read_train_prompts(const std::string& train_file, bool with_pairs);

// How a round's prompts are chosen from a dataset of `total` prompts split over `slices`.
struct PromptSliceSpec {
  PromptSelection selection = PromptSelection::slices;
  std::int64_t per_round = 0;     // online.prompts_per_round; 0 = total / slices (slices, shuffle) or total (all)
  std::int64_t slices = 1;        // rounds that draw prompts (offline round 0 included)
  std::uint64_t shuffle_seed = 0; // run.seed: the permutation of shuffle
};

// Dataset indices of slice `slice` (0-based): a contiguous slice of the dataset (slices) or of
// a seeded permutation (shuffle), or the first `per_round` prompts every time (all).
std::vector<std::int64_t> select_prompt_indices(std::int64_t total, const PromptSliceSpec& spec, std::int64_t slice);

// prompts.jsonl: {"dataset_index", "line", "record"} per prompt.
std::string prompts_jsonl(const std::vector<TrainPrompt>& prompts);
// The dataset's prompts named by `prompts_file`; InputError when an index is not in the
// dataset (`train_file` names it).
std::vector<TrainPrompt> read_round_prompts(const std::filesystem::path& prompts_file,
                                            const std::vector<TrainPrompt>& dataset, const std::string& train_file);

}  // namespace selm
