#include "selm/online/train_prompts.hpp"

#include <algorithm>

#include "selm/data/records.hpp"
#include "selm/text/chat_format.hpp"
#include "selm/train/shuffle.hpp"
#include "selm/util/error.hpp"
#include "selm/util/files.hpp"

namespace selm {

nlohmann::json prompt_value(const TrainPrompt& prompt) {
  if (prompt.record.contains("prompt")) return prompt.record.at("prompt");
  nlohmann::json list = nlohmann::json::array();
  for (const auto& message : prompt.messages) list.push_back({{"role", message.role}, {"content", message.content}});
  return list;
}

std::vector<TrainPrompt> read_train_prompts(const std::string& train_file, bool with_pairs) {
  std::vector<TrainPrompt> prompts;
  std::int64_t index = 0;
  for (const auto& [line, record] : read_jsonl(train_file)) {
    TrainPrompt prompt;
    prompt.dataset_index = index++;
    prompt.line = line;
    prompt.record = record;
    if (with_pairs) {
      PreferenceRecord pair = parse_preference_record(record, train_file, line);
      prompt.messages = std::move(pair.prompt);
      prompt.chosen = std::move(pair.chosen);
      prompt.rejected = std::move(pair.rejected);
    } else {
      prompt.messages = parse_prompt_record(record, train_file, line);
    }
    prompts.push_back(std::move(prompt));
  }
  if (prompts.empty()) throw InputError(train_file + ": no prompts");
  return prompts;
}

std::vector<std::int64_t> select_prompt_indices(std::int64_t total, const PromptSliceSpec& spec, std::int64_t slice) {
  const bool every_round_all = spec.selection == PromptSelection::all;
  std::int64_t per_round = spec.per_round;
  if (per_round == 0) per_round = every_round_all ? total : total / spec.slices;
  per_round = std::min(per_round, total);
  std::vector<std::int64_t> order(static_cast<std::size_t>(total));
  for (std::int64_t i = 0; i < total; ++i) order[static_cast<std::size_t>(i)] = i;
  if (spec.selection == PromptSelection::shuffle) order = epoch_permutation(total, spec.shuffle_seed, 0);
  const std::int64_t begin = every_round_all ? 0 : slice * per_round;
  return std::vector<std::int64_t>(order.begin() + begin, order.begin() + begin + per_round);
}

std::string prompts_jsonl(const std::vector<TrainPrompt>& prompts) {
  std::string text;
  for (const TrainPrompt& prompt : prompts) {
    text += nlohmann::json{{"dataset_index", prompt.dataset_index}, {"line", prompt.line}, {"record", prompt.record}}
                .dump() +
            "\n";
  }
  return text;
}

std::vector<TrainPrompt> read_round_prompts(const std::filesystem::path& prompts_file,
                                            const std::vector<TrainPrompt>& dataset, const std::string& train_file) {
  std::vector<TrainPrompt> prompts;
  for (const auto& [line, value] : read_jsonl(prompts_file)) {
    const auto found = value.is_object() ? value.find("dataset_index") : value.end();
    if (found == value.end() || !found->is_number_integer()) {
      throw_input_error(prompts_file.string(), line, "key 'dataset_index': must be an integer");
    }
    const auto index = found->get<std::int64_t>();
    if (index < 0 || index >= static_cast<std::int64_t>(dataset.size())) {
      throw InputError(prompts_file.string() + ": dataset_index " + std::to_string(index) + " is not in " + train_file +
                       " any more");
    }
    prompts.push_back(dataset[static_cast<std::size_t>(index)]);
  }
  return prompts;
}

}  // namespace selm
