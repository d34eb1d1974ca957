// The model that an online run holds in memory, reloaded only when another directory is asked
// for: a round's stages share their starting model, and the next round starts from the weights
// training left in memory.
//
// With train.lora every model is built with adapters. Training leaves the round's starting
// model with the trained adapters in memory (hold_trained_adapters): that is the round's policy
// for its evaluation, whose reference is the same model with the adapters off. When the next
// round asks for the round's model/ the adapters are merged in place (merge_lora_adapters, the
// same arithmetic that wrote model/) and start afresh.
#pragma once

#include <filesystem>
#include <optional>

#include "selm/config/config.hpp"
#include "selm/model/language_model.hpp"

namespace selm {

class ModelSlot {
 public:
  // `config` (model, tokenizer and train settings) must outlive the slot.
  explicit ModelSlot(const Config& config);

  // The model of `directory` (with the PEFT adapter of `adapter_dir` loaded onto it, when
  // given), loaded in eval mode unless it is the one held. model.adapter_path applies to
  // model.path only: a round's model/ already contains what it adapted.
  LanguageModel& get(const std::filesystem::path& directory, const std::filesystem::path& adapter_dir = {});
  // Training updated the held model in place: its weights now equal those of `directory`.
  void relabel(const std::filesystem::path& directory) { directory_ = directory; }
  // Training with LoRA left the held model of `start` with adapters equal to those saved in
  // `adapter_dir`; merged they are the weights of `merged_dir`.
  void hold_trained_adapters(const std::filesystem::path& start, const std::filesystem::path& adapter_dir,
                             const std::filesystem::path& merged_dir);
  void release();
  // Whether the run's models carry LoRA adapters (train.lora or model.adapter_path).
  bool with_adapters() const { return runtime_options_.lora.has_value(); }

 private:
  const Config& config_;
  LlamaRuntimeOptions runtime_options_;
  std::optional<LanguageModel> model_;
  std::filesystem::path directory_;
  std::filesystem::path adapter_dir_;  // the adapter loaded onto directory_, empty = as initialised
  std::filesystem::path merged_dir_;   // what merging the held adapters gives, empty = unknown
};

}  // namespace selm
