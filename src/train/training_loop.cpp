#include "selm/train/training_loop.hpp"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>
#include <numeric>
#include <optional>
#include <sstream>

#include <nlohmann/json.hpp>
#include <ATen/Parallel.h>
#include <torch/nn/utils/clip_grad.h>
#include <torch/optim/adamw.h>

#include "selm/parallel/shared_artifacts.hpp"
#include "selm/train/gradient_reducer.hpp"
#include "selm/train/lr_schedule.hpp"
#include "selm/train/optimizer.hpp"
#include "selm/train/optimizer_shards.hpp"
#include "selm/train/shuffle.hpp"
#include "selm/train/training_precision.hpp"
#include "selm/util/clock.hpp"
#include "selm/util/error.hpp"
#include "selm/util/files.hpp"
#include "selm/util/log.hpp"
#include "selm/util/progress.hpp"
#include "selm/util/stop_request.hpp"

namespace selm {

namespace {

using Clock = std::chrono::steady_clock;

std::int64_t ceil_div(std::int64_t a, std::int64_t b) { return (a + b - 1) / b; }

std::vector<std::int64_t> epoch_order(std::int64_t num_examples, const TrainConfig& config, std::int64_t epoch) {
  if (config.shuffle) return epoch_permutation(num_examples, static_cast<std::uint64_t>(config.seed), epoch);
  std::vector<std::int64_t> order(static_cast<std::size_t>(num_examples));
  std::iota(order.begin(), order.end(), std::int64_t{0});
  return order;
}

std::string format_number(const char* format, double value) {
  char text[64];
  std::snprintf(text, sizeof(text), format, value);
  return text;
}

// Global L2 norm of the gradients; clip_grad_norm_ computes the same when clipping is on.
double gradient_norm(const std::vector<torch::Tensor>& parameters) {
  std::vector<torch::Tensor> norms;
  for (const auto& parameter : parameters) {
    if (parameter.grad().defined()) norms.push_back(parameter.grad().detach().norm(2));
  }
  if (norms.empty()) return 0.0;
  return torch::stack(norms).norm(2).item<double>();
}

// Mean of metric maps with weights (examples per micro-batch, or 1 per step).
class MetricAverager {
 public:
  void add(const std::map<std::string, double>& metrics, double weight) {
    for (const auto& [name, value] : metrics) {
      auto& entry = sums_[name];
      entry.first += value * weight;
      entry.second += weight;
    }
  }
  std::map<std::string, double> mean() const {
    std::map<std::string, double> result;
    for (const auto& [name, entry] : sums_) result[name] = entry.first / entry.second;
    return result;
  }
  void clear() { sums_.clear(); }
  // The mean over every rank's additions. Rank 0 always has examples in a step (it takes the
  // first of each micro-batch), so its metric names are the ones every rank reduces.
  std::map<std::string, double> reduced_mean(const ParallelContext& parallel, const std::string& stage) const {
    std::string names;
    for (const auto& entry : sums_) names += entry.first + '\n';
    names = parallel.communicator->broadcast_string(names, 0, stage);
    std::vector<std::string> keys;
    for (std::size_t at = 0, end; (end = names.find('\n', at)) != std::string::npos; at = end + 1) {
      keys.push_back(names.substr(at, end - at));
    }
    std::vector<double> values;
    for (const std::string& key : keys) {
      const auto found = sums_.find(key);
      values.push_back(found == sums_.end() ? 0.0 : found->second.first);
      values.push_back(found == sums_.end() ? 0.0 : found->second.second);
    }
    values = parallel.sum(std::move(values), stage);
    std::map<std::string, double> result;
    for (std::size_t k = 0; k < keys.size(); ++k) result[keys[k]] = values[2 * k] / values[2 * k + 1];
    return result;
  }

 private:
  std::map<std::string, std::pair<double, double>> sums_;
};

// Keeps the metric records of steps <= last_step: records written after the checkpoint that a
// resumed run restarts from would otherwise appear twice.
void truncate_metrics_after(const SharedArtifacts& artifacts, const fs::path& file, std::int64_t last_step) {
  if (!fs::exists(file)) return;
  std::string kept;
  for (const auto& [line, record] : read_jsonl(file, /*tolerate_partial_tail=*/true)) {
    (void)line;
    const auto step = record.find("step");
    if (step != record.end() && step->is_number_integer() && step->get<std::int64_t>() <= last_step) {
      kept += record.dump() + "\n";
    }
  }
  artifacts.write_file(file, kept);
}

void require_matches(const fs::path& checkpoint_dir, const char* key, std::int64_t stored, std::int64_t current,
                     const std::string& what) {
  if (stored == current) return;
  throw InputError((checkpoint_dir / kTrainerStateFile).string() + ": key '" + key + "': the checkpoint was made with " +
                   std::to_string(stored) + " but this run has " + std::to_string(current) + " (" + what +
                   "); resume with the same data and batching, or start a fresh run");
}

void check_loop_inputs(const TrainConfig& config, const TrainingLoopOptions& options, const StepFunction& step) {
  if (!step) throw std::invalid_argument("run_training_loop: no step function");
  if (!options.save_model || !options.load_model) {
    throw std::invalid_argument("run_training_loop: save_model and load_model callbacks are required");
  }
  if (config.log_every < 1) throw InputError("key 'log_every': must be at least 1");
  if (config.save_every < 0) throw InputError("key 'save_every': must be 0 (only at the end) or positive");
}

// The state of a run that starts at step 0, holding what a checkpoint must match to resume it.
TrainerState fresh_state(const TrainingPlan& plan, const TrainConfig& config, std::int64_t num_examples,
                         std::int64_t world_size) {
  TrainerState fresh;
  fresh.total_steps = plan.total_steps;
  fresh.num_examples = num_examples;
  fresh.batch_size = config.batch_size;
  fresh.world_size = world_size;
  fresh.shard_optimizer_state = config.shard_optimizer_state && world_size > 1;
  fresh.gradient_accumulation_steps = config.gradient_accumulation_steps;
  fresh.epochs = config.epochs;
  fresh.seed = config.seed;
  fresh.shuffle = config.shuffle;
  return fresh;
}

// The resume phase's check: a checkpoint continues only the run with the same data and batching.
void require_checkpoint_matches(const fs::path& checkpoint, const TrainerState& stored, const TrainerState& fresh) {
  require_matches(checkpoint, "num_examples", stored.num_examples, fresh.num_examples, "training examples");
  require_matches(checkpoint, "batch_size", stored.batch_size, fresh.batch_size, "batch_size");
  require_matches(checkpoint, "world_size", stored.world_size, fresh.world_size,
                  "processes of the data-parallel job, which with batch_size make the global batch");
  require_matches(checkpoint, "shard_optimizer_state", stored.shard_optimizer_state, fresh.shard_optimizer_state,
                  "whether each rank keeps a shard of the optimiser state (train.shard_optimizer_state)");
  require_matches(checkpoint, "gradient_accumulation_steps", stored.gradient_accumulation_steps,
                  fresh.gradient_accumulation_steps, "gradient_accumulation_steps");
  require_matches(checkpoint, "epochs", stored.epochs, fresh.epochs, "epochs");
  require_matches(checkpoint, "seed", stored.seed, fresh.seed, "seed");
  require_matches(checkpoint, "shuffle", stored.shuffle, fresh.shuffle, "shuffle");
  require_matches(checkpoint, "total_steps", stored.total_steps, fresh.total_steps, "optimiser steps");
  if (stored.global_step < 0 || stored.global_step > fresh.total_steps) {
    throw InputError((checkpoint / kTrainerStateFile).string() + ": key 'global_step': " +
                     std::to_string(stored.global_step) + " is outside 0.." + std::to_string(fresh.total_steps));
  }
}

// Resume phase: the state the run continues from. With a checkpoint in the output directory and
// options.resume, the checkpoint's (model and optimiser loaded too), and the metrics file cut
// back to its step; otherwise `fresh`, with the previous run's checkpoint and metrics removed.
TrainerState resume_or_start_fresh(const TrainerState& fresh, const TrainingLoopOptions& options,
                                   torch::optim::AdamW& optimizer, const fs::path& metrics_file) {
  const fs::path& output_dir = options.output_dir;
  remove_stale_checkpoint_temporaries(output_dir);
  const std::optional<fs::path> checkpoint = find_checkpoint(output_dir);
  if (!checkpoint || !options.resume) {
    SharedArtifacts(options.parallel).write_with([&] {
      if (checkpoint) {
        log::info("not resuming: removing the previous run's checkpoint in " + output_dir.string());
        fs::remove_all(output_dir / kCheckpointDirName);
        fs::remove_all(output_dir / kPreviousCheckpointDirName);
      }
      std::error_code ignored;
      fs::remove(metrics_file, ignored);
    });
    return fresh;
  }
  const TrainerState stored = read_trainer_state(*checkpoint);
  require_checkpoint_matches(*checkpoint, stored, fresh);
  if (stored.config_hash != config_hash(options.config_yaml)) {
    log::warn("resuming from " + checkpoint->string() + ", whose config differs from this run's (see its " +
              kCheckpointConfigFile + ")");
  }
  if (stored.torch_threads != torch::get_num_threads()) {
    log::warn("the checkpoint was written with " + std::to_string(stored.torch_threads) +
              " torch threads, this run uses " + std::to_string(torch::get_num_threads()) +
              ": results will not be bit-identical to an uninterrupted run");
  }
  const std::string optimizer_file =
      fresh.shard_optimizer_state ? optimizer_shard_file(options.parallel.rank) : std::string(kCheckpointOptimizerFile);
  TrainerState state = load_checkpoint(*checkpoint, options.load_model, optimizer, optimizer_file);
  truncate_metrics_after(SharedArtifacts(options.parallel), metrics_file, state.global_step);
  log::info("resuming training from " + checkpoint->string() + " at step " + std::to_string(state.global_step) +
            "/" + std::to_string(fresh.total_steps));
  return state;
}

// Checkpoint saving: `state` with the training time so far and this process's thread count.
// Under ZeRO-1 every other rank first writes its optimiser shard beside the checkpoint, and rank
// 0 moves the shards into the checkpoint it writes.
void save_training_checkpoint(TrainerState& state, double elapsed_seconds, const TrainingLoopOptions& options,
                              const torch::optim::AdamW& optimizer) {
  state.elapsed_seconds = elapsed_seconds;
  state.torch_threads = torch::get_num_threads();
  const ParallelContext& parallel = options.parallel;
  std::vector<fs::path> shard_files;
  if (state.shard_optimizer_state) {
    if (parallel.rank != 0) {
      const fs::path file = options.output_dir / optimizer_shard_file(parallel.rank);
      const fs::path partial = file.string() + ".partial";
      save_optimizer_state(optimizer, partial);
      fs::rename(partial, file);
    }
    parallel.barrier("checkpoint: optimiser shards");
    for (int rank = 1; rank < parallel.world_size; ++rank) {
      shard_files.push_back(options.output_dir / optimizer_shard_file(rank));
    }
  }
  SharedArtifacts(parallel).write_with([&] {
    save_checkpoint(options.output_dir, state, options.save_model, optimizer, options.config_yaml, shard_files);
  });
  if (state.shard_optimizer_state) parallel.barrier("checkpoint: written");
}

// Where the optimiser step after `completed_steps` sits in its epoch.
struct StepSpan {
  std::int64_t epoch = 0;
  std::int64_t first_micro = 0;    // micro-batches [first_micro, end_micro) of the epoch
  std::int64_t end_micro = 0;
  std::int64_t first_position = 0; // epoch positions [first_position, end_position)
  std::int64_t end_position = 0;
};

StepSpan step_span(std::int64_t completed_steps, const TrainingPlan& plan, const TrainConfig& config,
                   std::int64_t num_examples) {
  StepSpan span;
  span.epoch = completed_steps / plan.steps_per_epoch;
  span.first_micro = (completed_steps % plan.steps_per_epoch) * config.gradient_accumulation_steps;
  span.end_micro = std::min(span.first_micro + config.gradient_accumulation_steps, plan.micro_batches_per_epoch);
  span.first_position = span.first_micro * config.batch_size;
  span.end_position = std::min(num_examples, span.end_micro * config.batch_size);
  return span;
}

// The example indices of each micro-batch of `span`, read from the epoch's order.
std::vector<std::vector<std::int64_t>> step_micro_batches(const StepSpan& span, const std::vector<std::int64_t>& order,
                                                          std::int64_t batch_size) {
  std::vector<std::vector<std::int64_t>> micro_batches;
  for (std::int64_t micro = span.first_micro; micro < span.end_micro; ++micro) {
    const std::int64_t begin = micro * batch_size;
    const std::int64_t end = std::min(span.end_position, begin + batch_size);
    micro_batches.emplace_back(order.begin() + begin, order.begin() + end);
  }
  return micro_batches;
}

// The trainer state once `step_number` optimiser steps are complete.
void mark_step_done(TrainerState& state, std::int64_t step_number, const TrainingPlan& plan, const TrainConfig& config,
                    std::int64_t num_examples) {
  state.global_step = step_number;
  state.epoch = state.global_step / plan.steps_per_epoch;
  state.step_in_epoch = state.global_step % plan.steps_per_epoch;
  state.examples_done_in_epoch =
      std::min(num_examples, state.step_in_epoch * config.gradient_accumulation_steps * config.batch_size);
}

// run_optimizer_step's error with the step that failed and the checkpoint a rerun would resume.
NonFiniteTrainingError located_non_finite_error(const NonFiniteTrainingError& error, std::int64_t step_number,
                                                std::int64_t total_steps, std::int64_t epoch,
                                                const fs::path& output_dir, std::int64_t last_saved_step) {
  std::ostringstream message;
  message << "training stopped at step " << step_number << "/" << total_steps << " (epoch " << epoch
          << "): " << error.what() << "; the optimiser step was not taken";
  const std::optional<fs::path> kept = find_checkpoint(output_dir);
  if (kept) message << "; the last good checkpoint is " << kept->string() << " (step " << last_saved_step << ")";
  else message << "; no checkpoint had been written yet";
  return NonFiniteTrainingError(message.str());
}

// Metrics window: what one train_metrics.jsonl record averages, the optimiser steps since the
// previous record.
class MetricsWindow {
 public:
  void add(const StepRecord& record, const OptimizerStepResult& step) {
    metrics_.add(record.metrics, 1.0);
    grad_norm_ += record.grad_norm;
    tokens_ += record.num_tokens;
    forward_seconds_ += step.forward_seconds;
    backward_seconds_ += step.backward_seconds;
    optimizer_seconds_ += step.optimizer_seconds;
    ++steps_;
  }

  // The record of the window that ends with step `step_number`; `status` gets the progress
  // line's text.
  nlohmann::json record(std::int64_t step_number, const TrainingPlan& plan, double learning_rate,
                        double elapsed_seconds, std::string& status) const {
    const double window_seconds = seconds_since(start_);
    const double tokens_per_second = window_seconds > 0 ? static_cast<double>(tokens_) / window_seconds : 0.0;
    const double steps = static_cast<double>(steps_);
    nlohmann::json line = {
        {"step", step_number},
        {"epoch", static_cast<double>(step_number) / static_cast<double>(plan.steps_per_epoch)},
        {"learning_rate", learning_rate},
        {"grad_norm", grad_norm_ / steps},
        {"tokens", tokens_},
        {"tokens_per_second", tokens_per_second},
        {"time/forward_s", forward_seconds_ / steps},
        {"time/backward_s", backward_seconds_ / steps},
        {"time/optimizer_s", optimizer_seconds_ / steps},
        {"elapsed_seconds", elapsed_seconds}};
    const std::map<std::string, double> means = metrics_.mean();
    for (const auto& [name, value] : means) line[name] = value;
    status = progress_status(step_number, plan.total_steps, means, learning_rate, tokens_per_second);
    return line;
  }

 private:
  static std::string progress_status(std::int64_t step_number, std::int64_t total_steps,
                                     const std::map<std::string, double>& means, double learning_rate,
                                     double tokens_per_second) {
    std::string status = "step " + std::to_string(step_number) + "/" + std::to_string(total_steps) + " loss " +
                         format_number("%.4f", means.at("loss"));
    if (means.count("rewards/accuracies")) status += " acc " + format_number("%.3f", means.at("rewards/accuracies"));
    if (means.count("rewards/margins")) status += " margin " + format_number("%.4g", means.at("rewards/margins"));
    status += " lr " + format_number("%.3g", learning_rate) + " " + format_number("%.0f", tokens_per_second) + " tok/s";
    return status;
  }

  MetricAverager metrics_;
  double grad_norm_ = 0.0, forward_seconds_ = 0.0, backward_seconds_ = 0.0, optimizer_seconds_ = 0.0;
  std::int64_t steps_ = 0, tokens_ = 0;
  Clock::time_point start_ = Clock::now();
};

}  // namespace

std::vector<torch::Tensor> trainable_parameters(torch::nn::Module& model) {
  std::vector<torch::Tensor> parameters;
  for (const auto& parameter : model.parameters()) {
    if (parameter.requires_grad()) parameters.push_back(parameter);
  }
  return parameters;
}

TrainingPlan plan_training(std::int64_t num_examples, const TrainConfig& config) {
  if (num_examples < 1) throw InputError("training set: no examples to train on");
  if (config.batch_size < 1) throw InputError("key 'batch_size': must be at least 1");
  if (config.gradient_accumulation_steps < 1) throw InputError("key 'gradient_accumulation_steps': must be at least 1");
  if (config.epochs < 1) throw InputError("key 'epochs': must be at least 1");
  TrainingPlan plan;
  plan.micro_batches_per_epoch = ceil_div(num_examples, config.batch_size);
  plan.steps_per_epoch = ceil_div(plan.micro_batches_per_epoch, config.gradient_accumulation_steps);
  plan.total_steps = plan.steps_per_epoch * config.epochs;
  return plan;
}

std::vector<std::int64_t> micro_batch_examples(std::int64_t num_examples, const TrainConfig& config,
                                               std::int64_t epoch, std::int64_t micro_batch) {
  const std::vector<std::int64_t> order = epoch_order(num_examples, config, epoch);
  const std::int64_t begin = std::min(num_examples, micro_batch * config.batch_size);
  const std::int64_t end = std::min(num_examples, begin + config.batch_size);
  return {order.begin() + begin, order.begin() + end};
}

OptimizerStepResult run_optimizer_step(torch::optim::Optimizer& optimizer, const std::vector<torch::Tensor>& parameters,
                                       double max_grad_norm, const std::vector<std::vector<std::int64_t>>& micro_batches,
                                       std::int64_t first_position, const StepFunction& step,
                                       const DataParallelStep& data_parallel) {
  const ParallelContext& parallel = data_parallel.parallel;
  auto non_finite = [](const std::string& what, double value, const std::string& where) {
    std::ostringstream message;
    message << what << " is " << value << where;
    return NonFiniteTrainingError(message.str());
  };
  std::int64_t examples = 0;
  for (const auto& indices : micro_batches) examples += static_cast<std::int64_t>(indices.size());
  const auto examples_in_step = static_cast<double>(examples);
  const bool distributed = parallel.is_distributed();

  // Data parallelism: rank r takes the r-th block of each micro-batch of `size` examples.
  const auto local_block = [&](std::int64_t size) {
    const std::int64_t per_rank = data_parallel.per_rank_batch > 0
                                      ? data_parallel.per_rank_batch
                                      : (size + parallel.world_size - 1) / parallel.world_size;
    const std::int64_t block_begin = std::min(size, per_rank * parallel.rank);
    return std::make_pair(block_begin, std::min(size, block_begin + per_rank));
  };
  // The gradient all-reduce starts during this rank's last backward pass.
  std::optional<GradientReducer> step_reducer;
  GradientReducer* reducer = data_parallel.gradient_reducer;
  std::size_t last_local_micro = micro_batches.size();  // the last micro-batch with examples on this rank
  if (distributed) {
    if (reducer == nullptr) reducer = &step_reducer.emplace(parameters, parallel, "training: gradient all-reduce");
    for (std::size_t micro = 0; micro < micro_batches.size(); ++micro) {
      const auto [block_begin, block_end] = local_block(static_cast<std::int64_t>(micro_batches[micro].size()));
      if (block_begin < block_end) last_local_micro = micro;
    }
  }
  OptimizerStepResult result;
  MetricAverager step_metrics;
  std::optional<NonFiniteTrainingError> local_error;  // a rank's non-finite value, reported by every rank
  std::int64_t begin = first_position;
  for (std::size_t micro = 0; micro < micro_batches.size(); ++micro) {
    const std::vector<std::int64_t>& indices = micro_batches[micro];
    const std::int64_t end = begin + static_cast<std::int64_t>(indices.size());
    const std::string where = " in micro-batch " + std::to_string(micro + 1) + " of " +
                              std::to_string(micro_batches.size()) + " (epoch positions " + std::to_string(begin) +
                              ".." + std::to_string(end - 1) + ")";
    const auto [block_begin, block_end] = local_block(static_cast<std::int64_t>(indices.size()));
    const std::vector<std::int64_t> local_indices(indices.begin() + block_begin, indices.begin() + block_end);
    const auto micro_examples = static_cast<double>(end - begin);
    const auto local_examples = static_cast<double>(local_indices.size());

    StepOutput output;
    double loss_value = 0.0;
    if (!local_indices.empty() && !local_error) {
      const Clock::time_point forward_start = Clock::now();
      output = step(local_indices);
      result.forward_seconds += seconds_since(forward_start);
      if (!output.loss.defined() || output.loss.numel() != 1) {
        throw std::invalid_argument("run_training_loop: the step function must return a scalar loss");
      }
      loss_value = output.loss.item<double>();
      output.metrics.emplace("loss", loss_value);
      try {
        if (!std::isfinite(loss_value)) throw non_finite("loss", loss_value, where);
        for (const auto& [name, value] : output.metrics) {
          if (!std::isfinite(value)) throw non_finite("metric '" + name + "'", value, where);
        }
      } catch (const NonFiniteTrainingError& error) {
        if (!distributed) throw;
        local_error = error;
      }
    }
    // The loss is a mean over `normalizer` units (examples, or tokens for SFT). Scaled by this
    // rank's share of the micro-batch's units, and by the micro-batch's share of the step's
    // examples, the ranks' gradients sum to the one-process gradient of the same micro-batches.
    // A mean over examples is scaled by this rank's share of the step's examples at once: the
    // factor one process uses for the same block as a micro-batch of its own, so that two ranks
    // reproduce its accumulated gradient bit for bit.
    const bool computed = output.loss.defined() && !local_error;
    const double local_units = computed ? (output.normalizer >= 0 ? output.normalizer : local_examples) : 0.0;
    double micro_units = local_units;
    if (distributed) {
      const std::vector<double> totals =
          parallel.sum({local_units, local_error ? 1.0 : 0.0}, "training: micro-batch " + std::to_string(micro + 1));
      micro_units = totals[0];
      if (totals[1] > 0 && !local_error) local_error = NonFiniteTrainingError("a non-finite value on another rank" + where);
    }
    if (computed) {
      step_metrics.add(output.metrics, local_examples);
      result.num_tokens += output.num_tokens;
      const double scale = output.normalizer < 0 ? local_examples / examples_in_step
                           : micro_units > 0    ? local_units / micro_units * (micro_examples / examples_in_step)
                                                : 0.0;
      const Clock::time_point backward_start = Clock::now();
      if (reducer && micro == last_local_micro) reducer->watch_backward();
      (output.loss * scale).backward();
      if (reducer) reducer->stop_watching();
      result.backward_seconds += seconds_since(backward_start);
    }
    begin = end;
  }
  if (local_error) throw *local_error;

  const Clock::time_point optimizer_start = Clock::now();
  if (distributed) {
    const Clock::time_point collective_start = Clock::now();
    reducer->all_reduce();
    result.metrics = step_metrics.reduced_mean(parallel, "training: metrics");
    result.num_tokens = static_cast<std::int64_t>(
        parallel.sum({static_cast<double>(result.num_tokens)}, "training: token count")[0]);
    result.collective_seconds = seconds_since(collective_start);
  } else {
    result.metrics = step_metrics.mean();
  }
  result.grad_norm = max_grad_norm > 0 ? torch::nn::utils::clip_grad_norm_(parameters, max_grad_norm)
                                       : gradient_norm(parameters);
  if (!std::isfinite(result.grad_norm)) throw non_finite("the gradient norm", result.grad_norm, "");
  optimizer.step();
  if (data_parallel.optimizer_shards != nullptr) {
    const Clock::time_point broadcast_start = Clock::now();
    data_parallel.optimizer_shards->broadcast_parameters(parameters, parallel);
    result.collective_seconds += seconds_since(broadcast_start);
    // This rank's optimiser knows only its own parameters: the others' gradients are cleared here.
    for (const torch::Tensor& parameter : parameters) {
      if (parameter.grad().defined()) parameter.grad().zero_();
    }
  }
  optimizer.zero_grad();
  result.optimizer_seconds = seconds_since(optimizer_start);
  return result;
}

TrainingResult run_training_loop(torch::nn::Module& model, const TrainConfig& config,
                                 const TrainingLoopOptions& options, const StepFunction& step) {
  check_loop_inputs(config, options, step);
  const std::int64_t num_examples = options.num_examples;
  // train.batch_size is per rank: a job of N ranks steps through micro-batches of N x batch_size
  // examples, rank r taking the r-th block of batch_size, the examples one process would take in
  // N consecutive micro-batches (gradient_accumulation_steps x N).
  const std::int64_t world_size = options.parallel.world_size;
  TrainConfig global_batching = config;
  global_batching.batch_size = config.batch_size * world_size;
  const TrainingPlan plan = plan_training(num_examples, global_batching);
  const LrScheduleType schedule = config.lr_schedule;
  const std::int64_t warmup_steps = warmup_steps_for(config.warmup_ratio, plan.total_steps);
  const fs::path& output_dir = options.output_dir;
  const fs::path metrics_file = output_dir / kTrainMetricsFile;

  fs::create_directories(output_dir);
  model.train();
  // Before the optimiser exists, so that its moments take the parameters' training dtype.
  const TrainingDtypeGuard training_dtype(model, config.precision);
  const std::vector<torch::Tensor> parameters = trainable_parameters(model);
  if (config.precision == TrainPrecision::bf16) {
    if (const auto warning = bf16_resolution_warning(parameters, config.learning_rate)) log::warn(*warning);
  }
  const StepFunction precise_step =
      with_training_precision(step, config.precision, parameters.empty() ? torch::kCPU : parameters.front().device().type());
  // ZeRO-1: this rank's AdamW holds the moments of its share of the parameters only.
  std::optional<OptimizerShards> optimizer_shards;
  if (config.shard_optimizer_state && options.parallel.is_distributed()) {
    optimizer_shards.emplace(parameters, options.parallel.world_size);
  }
  auto optimizer = optimizer_shards ? make_rank_adamw(model, config, *optimizer_shards, options.parallel.rank)
                                    : make_adamw(model, config);
  std::optional<GradientReducer> gradient_reducer;
  if (options.parallel.is_distributed()) {
    gradient_reducer.emplace(parameters, options.parallel, "training: gradient all-reduce");
  }
  DataParallelStep data_parallel;
  data_parallel.parallel = options.parallel;
  data_parallel.per_rank_batch = config.batch_size;
  data_parallel.gradient_reducer = gradient_reducer ? &*gradient_reducer : nullptr;
  data_parallel.optimizer_shards = optimizer_shards ? &*optimizer_shards : nullptr;

  TrainerState state = resume_or_start_fresh(fresh_state(plan, config, num_examples, world_size), options, *optimizer, metrics_file);
  TrainingResult result;
  result.total_steps = plan.total_steps;
  result.resumed_from_step = state.global_step;
  log::info("training: " + std::to_string(num_examples) + " examples, " + std::to_string(config.epochs) +
            " epoch(s) x " + std::to_string(plan.steps_per_epoch) + " optimiser steps of up to " +
            std::to_string(config.batch_size * config.gradient_accumulation_steps) + " examples, " +
            std::to_string(warmup_steps) + " warmup steps");

  SharedArtifacts::Jsonl metrics_writer(SharedArtifacts(options.parallel), metrics_file, /*append=*/true);
  const std::int64_t last_step =
      options.stop_after_step > 0 ? std::min(options.stop_after_step, plan.total_steps) : plan.total_steps;
  std::unique_ptr<Progress> progress;
  if (options.show_progress && state.global_step < last_step) {
    progress = std::make_unique<Progress>("train", last_step - state.global_step, "steps", options.parallel);
  }
  const double elapsed_before = state.elapsed_seconds;
  const Clock::time_point process_start = Clock::now();
  auto elapsed = [&] { return elapsed_before + seconds_since(process_start); };

  MetricsWindow window;
  std::string progress_status;
  std::int64_t order_epoch = -1;
  std::vector<std::int64_t> order;
  std::int64_t last_saved_step = result.resumed_from_step;
  optimizer->zero_grad();

  while (state.global_step < last_step) {
    const StepSpan span = step_span(state.global_step, plan, global_batching, num_examples);
    if (span.epoch != order_epoch) {
      order = epoch_order(num_examples, config, span.epoch);
      order_epoch = span.epoch;
    }
    const std::int64_t step_number = state.global_step + 1;
    const double learning_rate =
        learning_rate_at(schedule, config.learning_rate, state.global_step, plan.total_steps, warmup_steps);
    set_learning_rate(*optimizer, learning_rate);

    OptimizerStepResult outcome;
    try {
      outcome = run_optimizer_step(*optimizer, parameters, config.max_grad_norm,
                                   step_micro_batches(span, order, global_batching.batch_size), span.first_position,
                                   precise_step, data_parallel);
    } catch (const NonFiniteTrainingError& error) {
      throw located_non_finite_error(error, step_number, plan.total_steps, span.epoch, output_dir, last_saved_step);
    }
    mark_step_done(state, step_number, plan, global_batching, num_examples);

    StepRecord record;
    record.step = step_number;
    record.total_steps = plan.total_steps;
    record.epoch = span.epoch;
    record.learning_rate = learning_rate_of(*optimizer, kDecayGroup);  // read back: what the step used
    record.grad_norm = outcome.grad_norm;
    record.num_tokens = outcome.num_tokens;
    record.metrics = outcome.metrics;
    result.last_step = record;

    window.add(record, outcome);
    if (step_number % config.log_every == 0 || step_number == plan.total_steps) {
      metrics_writer.write(window.record(step_number, plan, learning_rate, elapsed(), progress_status));
      window = MetricsWindow();
    }
    if (progress) progress->advance(1, progress_status);

    if ((config.save_every > 0 && step_number % config.save_every == 0) || step_number == last_step) {
      save_training_checkpoint(state, elapsed(), options, *optimizer);
      last_saved_step = step_number;
    }
    if (options.on_step) options.on_step(record);
    // A stop request (util/stop_request.hpp) ends training after this step, on every rank at
    // the same step: the ranks agree on it.
    bool stop = stop_requested();
    if (options.parallel.is_distributed()) {
      stop = options.parallel.sum({stop ? 1.0 : 0.0}, "training: stop requests")[0] > 0;
    }
    if (stop && step_number < last_step) {
      if (last_saved_step != step_number) {
        save_training_checkpoint(state, elapsed(), options, *optimizer);
        last_saved_step = step_number;
      }
      if (progress) progress->finish("stopped");
      const std::string signal = stop_signal_name();
      throw StopRequested("training stopped by " + (signal.empty() ? std::string("a stop request") : signal) +
                          " after step " + std::to_string(step_number) + "/" + std::to_string(plan.total_steps) +
                          "; its checkpoint is in " + output_dir.string() + "; rerun the same command to resume");
    }
  }
  if (progress) progress->finish();
  result.completed_steps = state.global_step;
  result.finished = state.global_step == plan.total_steps;
  return result;
}

}  // namespace selm
