// AdamW for training, built from TrainConfig, and its state on disk.
//
// Parameter groups follow Hugging Face's Trainer: weight decay applies to weight matrices
// (and embeddings), never to 1-D parameters (norm weights, biases), which decay would pull
// towards zero for no regularisation benefit.
#pragma once

#include <cstddef>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <torch/nn/module.h>
#include <torch/optim/adamw.h>

#include "selm/train/train_config.hpp"

namespace selm {

namespace fs = std::filesystem;

// Index of the two parameter groups in the optimiser made by make_adamw.
inline constexpr std::size_t kDecayGroup = 0;
inline constexpr std::size_t kNoDecayGroup = 1;

// True for parameters that receive weight decay: those with two or more dimensions.
bool receives_weight_decay(const torch::Tensor& parameter);

// AdamW over the module's parameters that require gradients, in `named_parameters()` order:
// group kDecayGroup (matrices) with config.weight_decay, group kNoDecayGroup (1-D) with 0.
// betas, epsilon and the initial learning rate (config.learning_rate) come from the config;
// the training loop sets the learning rate of every step with set_learning_rate.
// Both groups always exist (possibly empty) so that the optimiser's layout is fixed.
// With `keep`, only the trainable parameters whose index (in that order) it accepts: one rank's
// share under ZeRO-1 (train/optimizer_shards.hpp).
std::unique_ptr<torch::optim::AdamW> make_adamw(torch::nn::Module& module, const TrainConfig& config,
                                                const std::function<bool(std::size_t)>& keep = {});

// Sets the learning rate of every parameter group.
void set_learning_rate(torch::optim::AdamW& optimizer, double learning_rate);
// Learning rate of group `group` (what the next step will use).
double learning_rate_of(const torch::optim::AdamW& optimizer, std::size_t group = kDecayGroup);

// Writes the per-parameter AdamW state (step, exp_avg, exp_avg_sq, max_exp_avg_sq when
// amsgrad) and the group layout to `file` (a torch archive). Values round-trip bit-exactly.
void save_optimizer_state(const torch::optim::AdamW& optimizer, const fs::path& file);

// Restores what save_optimizer_state wrote into an optimiser built the same way (same module,
// same config). A missing file, or a layout that does not match (group count, parameter count
// or shape) is an InputError naming the file. Learning rates and hyper-parameters are not
// stored: they come from the config and the schedule.
void load_optimizer_state(torch::optim::AdamW& optimizer, const fs::path& file);

}  // namespace selm
