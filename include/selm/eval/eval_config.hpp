// Options of the per-round evaluation (`selm train`, `selm eval`): held-out prompts generated
// greedily by default, judged against the initial model's responses.
#pragma once

#include <cstdint>
#include <string>

#include "selm/config/field_checker.hpp"
#include "selm/config/fields.hpp"

namespace selm {

struct EvalConfig {
  bool enabled = true;                 // evaluate after every round
  std::int64_t max_prompts = 0;        // first N prompts of data.eval_file; 0 = all
  double temperature = 0.0;            // 0 = greedy responses for the win rate
  std::int64_t max_new_tokens = 0;     // 0 = generate.max_new_tokens
  std::int64_t kl_samples = 1;         // policy samples (temperature 1) per prompt for KL(pi || ref); 0 = skip
  std::int64_t num_examples = 3;       // sample generations kept in eval.json for the report

  template <class Visitor>
  void visit_fields(Visitor& v) {
    v.field("enabled", enabled, "Evaluate on data.eval_file after every round");
    v.field("max_prompts", max_prompts, "Use the first N held-out prompts; 0 = all");
    v.field("temperature", temperature, "Sampling temperature of the evaluated responses; 0 = greedy");
    v.field("max_new_tokens", max_new_tokens, "Token limit of evaluated responses; 0 = generate.max_new_tokens");
    v.field("kl_samples", kl_samples,
            "Samples per prompt, at temperature 1, for the estimate of KL(policy || reference); 0 skips it");
    v.field("num_examples", num_examples, "Sample generations stored in eval.json and shown in the report",
            field_role::speed);
  }
  void validate(const FieldChecker& check) const;
};

}  // namespace selm
