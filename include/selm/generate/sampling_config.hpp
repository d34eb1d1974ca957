// Run-time options of generation (sampling, batching, stopping).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "selm/config/field_checker.hpp"
#include "selm/config/fields.hpp"

namespace selm {

struct SamplingConfig {
  std::int64_t max_new_tokens = 128;     // generation stops after this many new tokens
  double temperature = 1.0;              // 0 = greedy decoding
  std::int64_t top_k = 0;                // keep the k most likely tokens; 0 = off
  double top_p = 1.0;                    // nucleus sampling mass; 1 = off
  std::int64_t num_samples = 1;          // responses per prompt
  std::int64_t batch_size = 16;          // sequences decoded together
  std::int64_t max_prompt_length = 512;  // prompts longer than this are truncated from the left
  std::vector<std::string> stop;         // stop strings (besides EOS)
  std::int64_t seed = 42;                // sample s of prompt i depends on (seed, i, s) only

  template <class Visitor>
  void visit_fields(Visitor& v) {
    v.field("max_new_tokens", max_new_tokens, "Maximum number of new tokens per response");
    v.field("temperature", temperature, "Sampling temperature; 0 means greedy decoding");
    v.field("top_k", top_k, "Sample among the k most likely tokens; 0 disables top-k");
    v.field("top_p", top_p, "Nucleus sampling: smallest token set with this probability mass; 1 disables it");
    v.field("num_samples", num_samples, "Number of responses generated per prompt");
    v.field("batch_size", batch_size, "Number of sequences decoded together", field_role::speed);
    v.field("max_prompt_length", max_prompt_length, "Prompts longer than this many tokens are truncated from the left");
    v.field("stop", stop, "Stop strings: generation of a response ends when one appears");
    v.field("seed", seed, "Sampling seed; each sample depends only on (seed, prompt index, sample index)",
            field_role::run_identity);
  }

  void validate(const FieldChecker& check) const;
};

}  // namespace selm
