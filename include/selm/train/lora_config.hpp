// The `train.lora` section: low-rank adapters trained instead of the full weights, with the
// names and defaults of Hugging Face PEFT's LoraConfig (r, lora_alpha, lora_dropout,
// target_modules). docs/lora.md describes the adapters, their files and the reference.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "selm/config/field_checker.hpp"
#include "selm/config/fields.hpp"
#include "selm/model/llama_runtime_options.hpp"

namespace selm {

struct LoraConfig {
  std::int64_t rank = 0;   // PEFT's r (whose own default is 8); 0 = LoRA off, train every weight
  double alpha = 8.0;      // PEFT's lora_alpha; the adapter's output is scaled by alpha / rank
  double dropout = 0.0;    // PEFT's lora_dropout, on the adapter's input while training
  std::vector<std::string> target_modules = {"q_proj", "v_proj"};  // PEFT's default for Llama

  bool enabled() const { return rank > 0; }

  template <class Visitor>
  void visit_fields(Visitor& v) {
    v.field("rank", rank, "LoRA rank r (PEFT's default is 8); 0 disables LoRA and trains every weight");
    v.field("alpha", alpha, "LoRA scale lora_alpha: the adapter's output is multiplied by alpha / rank");
    v.field("dropout", dropout, "Dropout probability on the adapter's input while training (lora_dropout)");
    v.field("target_modules", target_modules,
            "Projections that get adapters: q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj, "
            "lm_head, or the single entry all-linear (every projection of the decoder layers)");
  }

  void validate(const FieldChecker& check) const;
};

// The adapters `lora` asks for (none when rank is 0), target_modules resolved (all-linear
// expanded), drawn from `init_seed`.
std::optional<LoraAdapterSpec> lora_adapter_spec(const LoraConfig& lora, std::int64_t init_seed);

}  // namespace selm
