// How training applies train.precision (train_precision.hpp) to a model and its steps.
//
//   fp32        nothing changes.
//   bf16_mixed  the parameters, their gradients and the AdamW moments stay float32 (the master
//               weights); each step's forward runs under bfloat16 autocast (model/autocast.hpp),
//               so the projections and attention matmuls compute in bfloat16, and backward
//               follows the graph the forward recorded. What autocast leaves alone stays float32:
//               the embedding output and residual stream, the RMSNorm statistics, the softmax of
//               attention, and the logits, which sequence_logps casts to float32 before the
//               log-softmax; so the log-probs, the loss and every reduction are float32.
//   bf16        the parameters (hence the gradients and AdamW moments) are bfloat16 for the
//               whole training, and go back to the dtype they were loaded in afterwards (exactly:
//               every bfloat16 value is a float32). A bfloat16 weight w keeps 8 significant bits:
//               an update smaller than half its unit in the last place, which lr < |w| * 2^-9
//               guarantees, rounds away; bf16_resolution_warning reports how many weights that is.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <c10/core/DeviceType.h>
#include <c10/core/ScalarType.h>
#include <torch/nn/module.h>

#include "selm/train/train_precision.hpp"
#include "selm/train/training_loop.hpp"

namespace selm {

// True for the precisions whose forward passes run under bfloat16 autocast.
bool uses_bf16_autocast(TrainPrecision precision);

// The fraction of the elements w of `parameters` with learning_rate < |w| * 2^-9, whose bfloat16
// value an update of size learning_rate leaves unchanged; 0 without elements.
double fraction_of_bf16_updates_lost(const std::vector<torch::Tensor>& parameters, double learning_rate);

// A warning naming that fraction when it is above 0, for a bfloat16 model trained at
// `learning_rate`; nothing otherwise.
std::optional<std::string> bf16_resolution_warning(const std::vector<torch::Tensor>& parameters,
                                                   double learning_rate);

// The model's parameters in the dtype `precision` trains them in, for the guard's lifetime.
// bf16: the floating-point parameters become bfloat16, and the guard's end puts back the dtype
// they had. bf16_mixed: requires float32 parameters (InputError naming key 'model.dtype'),
// since they are the master weights. fp32: nothing.
class TrainingDtypeGuard {
 public:
  TrainingDtypeGuard(torch::nn::Module& model, TrainPrecision precision);
  ~TrainingDtypeGuard();

  TrainingDtypeGuard(const TrainingDtypeGuard&) = delete;
  TrainingDtypeGuard& operator=(const TrainingDtypeGuard&) = delete;

 private:
  torch::nn::Module& model_;
  std::optional<c10::ScalarType> loaded_dtype_;  // set when the guard converted the model
};

// `step` running under bfloat16 autocast on `device_type` for bf16_mixed; `step` itself for the
// other precisions. Only the step function (forward and loss) is autocast: the training loop
// runs backward outside it.
StepFunction with_training_precision(StepFunction step, TrainPrecision precision, c10::DeviceType device_type);

}  // namespace selm
