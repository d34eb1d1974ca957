// Run-time options of supervised fine-tuning (`selm sft`): which data to train and evaluate on
// and how examples are laid out in a batch. Optimiser, schedule, batching and lengths are the
// `train` section's (train_config.hpp).
#pragma once

#include <string>

#include "selm/config/field_checker.hpp"

namespace selm {

struct SftConfig {
  std::string train_file;  // SFT JSONL: {"prompt","response"}, {"messages"} or {"text"}
  std::string eval_file;   // optional held-out SFT JSONL; its perplexity is reported when set
  bool packing = false;    // concatenate examples into rows of train.max_length instead of padding

  template <class Visitor>
  void visit_fields(Visitor& v) {
    v.field("train_file", train_file, "SFT JSONL to train on: {prompt, response}, {messages} or {text} records");
    v.field("eval_file", eval_file, "Held-out SFT JSONL; its perplexity is reported after training (empty = none)");
    v.field("packing", packing,
            "Pack examples into rows of train.max_length tokens (attention may cross examples) instead of padding");
  }

  void validate(const FieldChecker& check) const;
};

}  // namespace selm
