#include "selm/online/model_slot.hpp"

#include "selm/train/training_runtime_options.hpp"
#include "selm/util/log.hpp"

namespace selm {

LanguageModel& ModelSlot::get(const std::filesystem::path& directory) {
  if (!model_ || directory != directory_) {
    model_.reset();
    log::info("loading model " + directory.string());
    model_.emplace(load_language_model(directory, config_.model, config_.tokenizer, training_runtime_options(config_.train)));
    model_->model->eval();
    directory_ = directory;
  }
  return *model_;
}

void ModelSlot::release() {
  model_.reset();
  directory_.clear();
}

}  // namespace selm
