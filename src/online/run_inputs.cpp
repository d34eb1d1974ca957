#include "selm/online/run_inputs.hpp"

#include <filesystem>

#include "selm/online/round_settings.hpp"
#include "selm/util/error.hpp"

namespace selm {

namespace {

void check_prompt_counts(const Config& config, const OnlineRunInputs& inputs) {
  if (config.online.prompt_selection == PromptSelection::all) return;
  const std::string& train_file = config.data.train_file;
  const auto available = static_cast<std::int64_t>(inputs.dataset.size());
  const std::int64_t per_round = config.online.prompts_per_round;
  if (per_round * inputs.slices > available) {
    throw InputError("key 'online.prompts_per_round': " + std::to_string(per_round) + " x " +
                     std::to_string(inputs.slices) + " rounds needs more than the " + std::to_string(available) +
                     " prompts of " + train_file);
  }
  if (per_round == 0 && available < inputs.slices) {
    throw InputError(train_file + ": " + std::to_string(available) + " prompts cannot fill " +
                     std::to_string(inputs.slices) + " rounds");
  }
}

}  // namespace

OnlineRunInputs read_online_run_inputs(const Config& config) {
  OnlineRunInputs inputs;
  inputs.pairing = config.online.pairing;
  inputs.first_round = config.online.offline_round0 ? 0 : 1;
  inputs.slices = config.online.rounds + (config.online.offline_round0 ? 1 : 0);
  if (config.model.path.empty()) throw InputError("key 'model.path': required (the initial policy and reference)");
  if (config.data.train_file.empty()) throw InputError("key 'data.train_file': required (the training prompts)");
  if (inputs.pairing == PairingStrategy::best_worst && config.generate.num_samples < 2) {
    throw InputError("key 'generate.num_samples': online.pairing best_worst needs at least 2 samples per prompt");
  }
  const bool needs_pairs = inputs.pairing == PairingStrategy::selm || config.online.offline_round0;
  inputs.dataset = read_train_prompts(config.data.train_file, needs_pairs);
  check_prompt_counts(config, inputs);
  for (const OverrideList& overrides : config.online.round_overrides) {
    // Each round's overrides must make a valid config: checked now, not rounds later.
    (void)load_config({}, {}, overrides);
  }
  if (config.eval.enabled) {
    if (config.data.eval_file.empty()) {
      throw InputError("key 'data.eval_file': required when eval.enabled is true (held-out prompts)");
    }
    inputs.eval_prompts = read_eval_prompts(config.data.eval_file, config.eval.max_prompts);
  }
  if (!std::filesystem::is_directory(config.model.path)) {
    throw InputError("key 'model.path': '" + config.model.path + "' is not a model directory");
  }
  return inputs;
}

}  // namespace selm
