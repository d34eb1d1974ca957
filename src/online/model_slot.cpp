#include "selm/online/model_slot.hpp"

#include "selm/model/lora.hpp"
#include "selm/model/peft_adapter.hpp"
#include "selm/train/training_runtime_options.hpp"
#include "selm/util/log.hpp"

namespace selm {

namespace {

// Every model of the run gets the same adapters: train.lora's, or else those of
// model.adapter_path, which training then continues.
LlamaRuntimeOptions run_runtime_options(const Config& config) {
  LlamaRuntimeOptions options = training_runtime_options(config.train);
  if (!options.lora && !config.model.adapter_path.empty()) {
    options.lora = read_peft_adapter_config(config.model.adapter_path);
    options.lora->init_seed = config.train.seed;
  }
  return options;
}

}  // namespace

ModelSlot::ModelSlot(const Config& config) : config_(config), runtime_options_(run_runtime_options(config)) {}

LanguageModel& ModelSlot::get(const std::filesystem::path& directory, const std::filesystem::path& adapter_dir) {
  if (model_ && directory == directory_ && adapter_dir == adapter_dir_) return *model_;
  if (model_ && adapter_dir.empty() && !merged_dir_.empty() && directory == merged_dir_) {
    log::info("merging the adapters into the weights of " + directory.string());
    merge_lora_adapters(*model_->model, runtime_options_.lora->init_seed);
    model_->directory = directory;
    directory_ = directory;
    adapter_dir_.clear();
    merged_dir_.clear();
    return *model_;
  }
  model_.reset();
  log::info("loading model " + directory.string() + (adapter_dir.empty() ? "" : " with adapter " + adapter_dir.string()));
  ModelSettings settings = config_.model;
  if (directory != std::filesystem::path(config_.model.path)) settings.adapter_path.clear();
  if (!adapter_dir.empty()) settings.adapter_path = adapter_dir.string();
  model_.emplace(load_language_model(directory, settings, config_.tokenizer, runtime_options_));
  model_->model->eval();
  directory_ = directory;
  adapter_dir_ = adapter_dir;
  merged_dir_.clear();
  return *model_;
}

void ModelSlot::hold_trained_adapters(const std::filesystem::path& start, const std::filesystem::path& adapter_dir,
                                      const std::filesystem::path& merged_dir) {
  directory_ = start;
  adapter_dir_ = adapter_dir;
  merged_dir_ = merged_dir;
}

void ModelSlot::release() {
  model_.reset();
  directory_.clear();
  adapter_dir_.clear();
  merged_dir_.clear();
}

}  // namespace selm
