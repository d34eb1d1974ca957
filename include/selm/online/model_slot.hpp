// The model that an online run holds in memory, reloaded only when another directory is asked
// for: a round's stages share their starting model, and the next round starts from the weights
// training left in memory.
#pragma once

#include <filesystem>
#include <optional>

#include "selm/config/config.hpp"
#include "selm/model/language_model.hpp"

namespace selm {

class ModelSlot {
 public:
  // `config` (model and tokenizer settings) must outlive the slot.
  explicit ModelSlot(const Config& config) : config_(config) {}

  // The model of `directory`, loaded (in eval mode) unless it is the one held.
  LanguageModel& get(const std::filesystem::path& directory);
  // Training updated the held model in place: its weights now equal those of `directory`.
  void relabel(const std::filesystem::path& directory) { directory_ = directory; }
  void release();

 private:
  const Config& config_;
  std::optional<LanguageModel> model_;
  std::filesystem::path directory_;
};

}  // namespace selm
