#include "selm/train/preference_trainer.hpp"

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "selm/model/hf_model_dir.hpp"
#include "selm/model/autocast.hpp"
#include "selm/model/llama_checkpoint.hpp"
#include "selm/model/lora.hpp"
#include "selm/parallel/shared_artifacts.hpp"
#include "selm/train/preference_step.hpp"
#include "selm/train/training_precision.hpp"
#include "selm/train/training_model_io.hpp"
#include "selm/util/error.hpp"
#include "selm/util/files.hpp"
#include "selm/util/log.hpp"

namespace selm {

namespace {

// True when every record carries the reference log-probs this loss reads.
bool has_reference_logps(const std::vector<PreferenceRecord>& records, bool with_y_ref) {
  for (const auto& record : records) {
    if (!record.reference_logps) return false;
    if (with_y_ref && !record.reference_logps->reference_response) return false;
  }
  return true;
}

std::string records_jsonl(const std::vector<PreferenceRecord>& records) {
  std::string text;
  for (const auto& record : records) text += preference_record_to_json(record).dump() + "\n";
  return text;
}

}  // namespace

PreferenceData load_preference_data(const fs::path& path, const LanguageModel& lm, const TrainConfig& train,
                                    bool needs_reference_response) {
  PreferenceData data;
  data.file = read_preference_file_with_generation_logps(path);
  if (needs_reference_response) {
    for (const auto& record : data.file.records) {
      if (!record.reference_response) {
        throw_input_error(path.string(), record.line,
                          "key 'reference_response': missing (train.loss selm with train.alpha != 0 needs y_ref)");
      }
    }
  }
  data.examples.reserve(data.file.records.size());
  for (const auto& record : data.file.records) {
    data.examples.push_back(tokenize_preference(record, *lm.formatter, train.max_length, train.max_prompt_length));
  }
  return data;
}

std::vector<PreferenceRecord> reference_scored_records(LlamaForCausalLM& reference, PreferenceData& data,
                                                       const TrainConfig& train, std::int64_t pad_id,
                                                       const ReferenceScoringOptions& options) {
  const bool with_reference_response = options.with_reference_response;
  const fs::path& cache_file = options.cache_file;
  if (fs::exists(cache_file)) {
    std::vector<PreferenceRecord> loaded = read_preference_file(cache_file);
    if (loaded.size() == data.file.records.size() && has_reference_logps(loaded, with_reference_response)) {
      log::info("reference log-probs read from " + cache_file.string());
      return loaded;
    }
  }
  log::info("computing reference log-probs of " + std::to_string(data.file.records.size()) + " records");
  // In the precision the policy trains in, so that the two agree before the first update.
  const TrainingDtypeGuard training_dtype(*reference, train.precision);
  const AutocastScope autocast(reference->device().type(), torch::kBFloat16, uses_bf16_autocast(train.precision));
  // With LoRA the reference is the same model with its adapters off: its base weights exactly.
  AdaptersDisabled base_weights_only(*reference);
  compute_reference_logps(reference, data.file.records, data.examples, train.batch_size, pad_id, train.average_logps,
                          with_reference_response, data.file.generation_y_ref_logps, options.parallel);
  SharedArtifacts(options.parallel).write_file(cache_file, records_jsonl(data.file.records));
  options.parallel.barrier("reference log-probs: " + cache_file.string());  // the others read what rank 0 wrote
  return read_preference_file(cache_file);
}

TrainingResult train_preference_model(LanguageModel& lm, const std::vector<PreferenceRecord>& records,
                                      const std::vector<TokenizedPreference>& examples, const TrainConfig& train,
                                      const PreferenceTrainingOptions& options) {
  const PreferenceLossOptions loss_options = preference_loss_options(train);
  const std::int64_t pad_id = pad_id_of(lm);
  TrainingLoopOptions loop;
  loop.output_dir = options.output_dir;
  loop.num_examples = static_cast<std::int64_t>(records.size());
  loop.config_yaml = options.config_yaml;
  loop.stop_after_step = options.stop_after_step;
  loop.show_progress = options.show_progress;
  loop.parallel = options.parallel;
  const std::string chat_template = options.chat_template;
  loop.save_model = checkpoint_model_saver(lm, chat_template);
  loop.load_model = checkpoint_model_loader(lm);

  log_trainable_parameters(lm.model);
  lm.model->train();
  const StepFunction step = preference_step_function(lm.model, examples, records, loss_options, pad_id,
                                                     train.average_logps, options.reference_model);
  const TrainingResult result = run_training_loop(*lm.model, train, loop, step);
  lm.model->eval();
  if (result.finished) {
    SharedArtifacts(options.parallel).write_with(
        [&] { write_trained_model(lm, options.output_dir, chat_template); });
  }
  return result;
}

}  // namespace selm
