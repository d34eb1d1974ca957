// The model-agnostic training loop: epochs of seeded example order, micro-batches, gradient
// accumulation, clipping, AdamW with a scheduled learning rate, metrics, checkpoints, resume.
//
// The loss is the caller's: a StepFunction computes one micro-batch (forward pass and loss) for
// the given example indices. DPO, SELM and SFT trainers are step functions over this loop.
//
// Batching (deterministic, nothing dropped):
//   - epoch e visits the examples in epoch_permutation(N, seed, e) order (identity when
//     shuffle is off), cut into micro-batches of batch_size; the last micro-batch of an epoch
//     holds the remaining N mod batch_size examples when that is not zero;
//   - an optimiser step takes gradient_accumulation_steps consecutive micro-batches; the last
//     step of an epoch takes the micro-batches left over, possibly fewer. Steps never span two
//     epochs.
//   - Each micro-batch's loss is scaled by (its examples / the step's examples), so that when
//     the step function returns a per-example mean the accumulated gradient is the mean over
//     the step's examples: 1/gradient_accumulation_steps for full steps, and correct weights
//     for a short last step.
//   - batch_size is per rank: a data-parallel job of W ranks cuts micro-batches of W x batch_size
//     (run_optimizer_step gives each rank its block), and takes the steps one process takes
//     with batch_size and W x gradient_accumulation_steps.
//   micro_batches_per_epoch = ceil(N / batch_size), steps_per_epoch =
//   ceil(micro_batches_per_epoch / gradient_accumulation_steps), total = epochs * that.
//
// Files in the output directory: train_metrics.jsonl (kTrainMetricsFile) and the checkpoint
// (checkpoint.hpp). A resumed run continues from the checkpoint's step with the same example
// order and reaches the same weights as a run that was never stopped.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include <torch/nn/module.h>
#include <torch/optim/optimizer.h>
#include <torch/types.h>

#include "selm/parallel/parallel_context.hpp"
#include "selm/run/run_paths.hpp"
#include "selm/train/checkpoint.hpp"
#include "selm/train/train_config.hpp"

namespace selm {

namespace fs = std::filesystem;

class GradientReducer;
class OptimizerShards;

// The trainer writes into a round folder of a run directory too: names from run/run_paths.hpp.
inline constexpr const char* kTrainMetricsFile = run_files::kTrainMetrics;

// What the step function returns for one micro-batch.
struct StepOutput {
  torch::Tensor loss;                     // scalar; mean over the micro-batch's examples; backward() runs on it
  std::map<std::string, double> metrics;  // e.g. "rewards/accuracies"; "loss" is added from `loss` when absent
  std::int64_t num_tokens = 0;            // tokens processed, for tokens/s
  // What `loss` is a mean over, when not the examples: SFT's loss tokens. Data parallelism
  // weighs each rank's loss by it, so that N ranks give the loss of one micro-batch.
  double normalizer = -1;                 // < 0: the examples
};

// Forward pass and loss of the micro-batch made of `example_indices` (indices into the
// training set, in the epoch's order). Must not call backward or step the optimiser.
using StepFunction = std::function<StepOutput(const std::vector<std::int64_t>& example_indices)>;

// Reported after every optimiser step.
struct StepRecord {
  std::int64_t step = 0;                  // optimiser steps completed (1-based number of this step)
  std::int64_t total_steps = 0;
  std::int64_t epoch = 0;                 // 0-based epoch this step belonged to
  double learning_rate = 0.0;             // the rate this step used
  double grad_norm = 0.0;                 // global L2 norm of the gradient before clipping
  std::int64_t num_tokens = 0;
  std::map<std::string, double> metrics;  // averaged over the step's micro-batches, weighted by examples
};

struct TrainingLoopOptions {
  fs::path output_dir;                    // train_metrics.jsonl and checkpoint/
  std::int64_t num_examples = 0;          // size of the training set (indices 0..N-1)
  std::string config_yaml;                // resolved config, stored with every checkpoint
  SaveModelFunction save_model;           // writes the model as a Hugging Face directory
  LoadModelFunction load_model;           // loads it back (used when resuming)
  // Continue from OUTPUT_DIR's checkpoint when there is one. When false, an existing
  // checkpoint and metrics file are deleted and the run starts from step 0.
  bool resume = true;
  // Stop (after checkpointing) once this many optimiser steps of the run are complete, without
  // changing the schedule; 0 runs to the end. For time-limited jobs that resume later.
  std::int64_t stop_after_step = 0;
  bool show_progress = true;              // progress line on stderr
  // The rank that writes shared artifacts writes train_metrics.jsonl and the checkpoints.
  ParallelContext parallel;
  // Called after each optimiser step, once its metrics and checkpoint (if due) are written.
  std::function<void(const StepRecord&)> on_step;
};

struct TrainingResult {
  std::int64_t total_steps = 0;
  std::int64_t completed_steps = 0;       // optimiser steps of the run done so far (all processes)
  std::int64_t resumed_from_step = 0;     // the checkpoint's step, 0 for a fresh start
  bool finished = false;                  // completed_steps == total_steps
  StepRecord last_step;                   // the last step this process ran (step 0 if none)
};

// Thrown when the loss, a metric or the gradient norm is NaN or infinite. It is raised before
// the optimiser step, and no checkpoint is written, so the last checkpoint stays the last good one.
class NonFiniteTrainingError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct TrainingPlan {
  std::int64_t micro_batches_per_epoch = 0;
  std::int64_t steps_per_epoch = 0;
  std::int64_t total_steps = 0;
};

// The step counts above. Non-positive sizes are an InputError naming the key.
TrainingPlan plan_training(std::int64_t num_examples, const TrainConfig& config);

// The example indices of micro-batch `micro_batch` (0-based within the epoch) of `epoch`.
std::vector<std::int64_t> micro_batch_examples(std::int64_t num_examples, const TrainConfig& config,
                                               std::int64_t epoch, std::int64_t micro_batch);

// The parameters that get gradients (requires_grad), in the module's order: what the loop's
// optimiser steps and clips.
std::vector<torch::Tensor> trainable_parameters(torch::nn::Module& model);

// What one optimiser step did.
struct OptimizerStepResult {
  double grad_norm = 0.0;                 // global L2 norm of the gradient before clipping
  std::map<std::string, double> metrics;  // the step function's, "loss" included, weighted by examples
  std::int64_t num_tokens = 0;
  double forward_seconds = 0.0;           // in the step function, summed over the micro-batches
  double backward_seconds = 0.0;
  double optimizer_seconds = 0.0;         // norm, clipping, optimizer.step() and zero_grad()
  double collective_seconds = 0.0;        // data parallelism: the gradient all-reduce and the metrics
};

// One optimiser step exactly as run_training_loop takes it, for callers that time or test it
// alone: for each micro-batch (example indices, in order) `step`, then backward() of its loss
// scaled by its share of the step's examples; then the gradient norm of `parameters`, clipped to
// max_grad_norm when that is > 0, optimizer.step() and zero_grad(). The learning rate is the
// caller's to set. `first_position` is the epoch position of the first example, for messages.
// Throws NonFiniteTrainingError naming the value and the micro-batch, before optimizer.step().
// How one optimiser step is shared among the ranks of a data-parallel job (the default: one
// process, nothing shared).
struct DataParallelStep {
  ParallelContext parallel;
  std::int64_t per_rank_batch = 0;                    // 0: micro-batches split evenly
  GradientReducer* gradient_reducer = nullptr;        // one per run (buffers reused); null: one per step
  const OptimizerShards* optimizer_shards = nullptr;  // ZeRO-1
};

// With several ranks (`data_parallel`) each micro-batch is split among them: rank r takes its r-th
// block of `per_rank_batch` examples, which may be empty at an epoch's end.
// Each rank's loss is weighted by its share of the step's examples (or, for a loss with a
// StepOutput::normalizer, of the micro-batch's units), the gradients are summed over the ranks
// (train/gradient_reducer.hpp) and the metrics averaged over them: the step one process takes
// with the blocks as consecutive micro-batches. A rank with no examples still joins every
// collective; a non-finite value on any rank stops every rank. With `optimizer_shards` (ZeRO-1)
// the optimiser steps this rank's parameters, and every parameter is then sent from its owner.
OptimizerStepResult run_optimizer_step(torch::optim::Optimizer& optimizer, const std::vector<torch::Tensor>& parameters,
                                       double max_grad_norm, const std::vector<std::vector<std::int64_t>>& micro_batches,
                                       std::int64_t first_position, const StepFunction& step,
                                       const DataParallelStep& data_parallel = {});

// Runs (or resumes) training of `model`'s parameters that require gradients with AdamW
// (make_adamw), the config's schedule, accumulation and clipping, calling `step` for every
// micro-batch. Writes a metrics record every config.log_every steps and at the last step, and a
// checkpoint every config.save_every steps (when > 0), at stop_after_step and at the end.
// Throws NonFiniteTrainingError (see above), InputError for a checkpoint that does not match
// the run, and whatever `step` or the callbacks throw.
TrainingResult run_training_loop(torch::nn::Module& model, const TrainConfig& config,
                                 const TrainingLoopOptions& options, const StepFunction& step);

}  // namespace selm
