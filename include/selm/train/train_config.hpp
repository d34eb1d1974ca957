// Run-time options of training (preference and SFT): loss, optimiser, schedule, batching,
// logging and checkpoints. The loss hyper-parameters default to the SELM paper's (SELM.md).
#pragma once

#include <cstdint>

#include "selm/config/field_checker.hpp"
#include "selm/config/fields.hpp"
#include "selm/train/lora_config.hpp"
#include "selm/train/loss_type.hpp"
#include "selm/train/lr_schedule.hpp"
#include "selm/train/train_precision.hpp"

namespace selm {

struct TrainConfig {
  PreferenceLossType loss = PreferenceLossType::selm;  // preference training
  double beta = 0.01;                     // KL strength / implicit reward scale
  double alpha = 0.001;                   // SELM optimism coefficient; 0 = iterative DPO
  double label_smoothing = 0.0;           // conservative DPO
  double nll_weight = 0.0;                // weight of the chosen response's mean token NLL
  bool average_logps = false;             // average token log-probs instead of summing them
  double learning_rate = 5e-7;            // peak learning rate
  LrScheduleType lr_schedule = LrScheduleType::cosine;  // after linear warmup
  double warmup_ratio = 0.1;              // fraction of the optimiser steps spent warming up
  double weight_decay = 0.0;              // AdamW decoupled weight decay
  double adam_beta1 = 0.9;
  double adam_beta2 = 0.999;
  double adam_epsilon = 1e-8;
  double max_grad_norm = 1.0;             // gradient-norm clipping; 0 = off
  std::int64_t epochs = 1;
  std::int64_t batch_size = 8;            // examples per micro-batch (per device)
  std::int64_t gradient_accumulation_steps = 1;
  std::int64_t max_length = 1024;         // prompt + response tokens
  std::int64_t max_prompt_length = 512;   // prompts are truncated from the left to this
  std::int64_t log_every = 1;             // optimiser steps between metric lines
  std::int64_t save_every = 0;            // optimiser steps between checkpoints; 0 = only at the end
  std::int64_t seed = 42;                 // shuffling seed
  bool shuffle = true;                    // seeded shuffle of the examples each epoch
  TrainPrecision precision = TrainPrecision::fp32;  // number format of the training computation
  bool gradient_checkpointing = false;    // recompute each decoder layer in backward
  bool shard_optimizer_state = false;     // ZeRO-1: each rank keeps the AdamW state of its share of the parameters
  LoraConfig lora;                        // low-rank adapters instead of full fine-tuning (off by default)

  template <class Visitor>
  void visit_fields(Visitor& v) {
    v.field("loss", loss, "Preference loss: selm, dpo, ipo or hinge");
    v.field("beta", beta, "KL regularisation strength (scale of the implicit reward)");
    v.field("alpha", alpha, "SELM optimism coefficient; 0 gives iterative DPO");
    v.field("label_smoothing", label_smoothing, "Conservative DPO: probability that a preference label is flipped");
    v.field("nll_weight", nll_weight, "Weight of an NLL term on the chosen response; 0 disables it");
    v.field("average_logps", average_logps, "Average response token log-probs instead of summing them");
    v.field("learning_rate", learning_rate, "Peak learning rate");
    v.field("lr_schedule", lr_schedule, "Schedule after linear warmup: cosine or constant");
    v.field("warmup_ratio", warmup_ratio, "Fraction of optimiser steps used for linear warmup");
    v.field("weight_decay", weight_decay, "AdamW decoupled weight decay");
    v.field("adam_beta1", adam_beta1, "AdamW beta1");
    v.field("adam_beta2", adam_beta2, "AdamW beta2");
    v.field("adam_epsilon", adam_epsilon, "AdamW epsilon");
    v.field("max_grad_norm", max_grad_norm, "Clip the global gradient norm to this; 0 disables clipping");
    v.field("epochs", epochs, "Passes over the training data");
    v.field("batch_size", batch_size, "Examples per micro-batch on one device");
    v.field("gradient_accumulation_steps", gradient_accumulation_steps, "Micro-batches per optimiser step");
    v.field("max_length", max_length, "Maximum prompt + response tokens; responses are truncated to fit");
    v.field("max_prompt_length", max_prompt_length, "Prompts are truncated from the left to this many tokens");
    v.field("log_every", log_every, "Optimiser steps between metric records", field_role::speed);
    v.field("save_every", save_every, "Optimiser steps between checkpoints; 0 saves only at the end", field_role::speed);
    v.field("seed", seed, "Seed of the example shuffling", field_role::run_identity);
    v.field("shuffle", shuffle, "Shuffle the examples (seeded) every epoch");
    v.field("precision", precision,
            "fp32; bf16_mixed (float32 weights and AdamW moments, forward and backward in bfloat16); bf16 (all in bfloat16)");
    v.field("gradient_checkpointing", gradient_checkpointing,
            "Recompute each decoder layer's activations in backward: less memory, about a third more compute",
            field_role::speed);
    v.field("shard_optimizer_state", shard_optimizer_state,
            "Data parallelism (ZeRO-1): each rank keeps the AdamW moments of its share of the parameters, updates "
            "that share and sends it to the others; the optimiser memory per rank is divided by the world size",
            field_role::speed);
    v.section("lora", lora, "LoRA adapters (Hugging Face PEFT's LoraConfig names and defaults); rank 0 = off");
  }

  void validate(const FieldChecker& check) const;
};

}  // namespace selm
