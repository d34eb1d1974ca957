// LoRA adapters as Hugging Face PEFT stores them: a directory with adapter_config.json (the
// LoraConfig) and adapter_model.safetensors, whose tensor names are the model's parameter names
// behind PEFT's wrapper prefix and without the adapter name ("default"):
//   base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight   (r, in)
//   base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight   (out, r)
// PeftModel.from_pretrained(base, DIR) loads what save_peft_adapter writes, and
// load_peft_adapter loads what PEFT's save_pretrained writes for a Llama.
#pragma once

#include <filesystem>
#include <string>

#include "selm/model/llama_runtime_options.hpp"

namespace torch::nn {
class Module;
}

namespace selm {

namespace fs = std::filesystem;

// PEFT's prefix of every tensor name: the PeftModel's base_model (a LoraModel) wraps `model`.
inline constexpr const char* kPeftTensorPrefix = "base_model.model.";

// The adapter that DIR/adapter_config.json describes (r, lora_alpha, lora_dropout,
// target_modules with all-linear expanded; init_seed 0). InputError naming the file and key for
// a missing or malformed file and for what selm does not implement: a peft_type other than
// LORA, bias other than "none", fan_in_fan_out, use_dora, use_rslora, per-module rank or alpha
// patterns, modules_to_save, layers_to_transform.
LoraAdapterSpec read_peft_adapter_config(const fs::path& dir);

// Writes DIR/adapter_config.json and DIR/adapter_model.safetensors (each atomically; DIR is
// created) for the adapters of `model`, which `spec` describes. The tensors are saved in their
// own dtype; `base_model_name_or_path` is recorded as PEFT records it.
void save_peft_adapter(torch::nn::Module& model, const LoraAdapterSpec& spec, const fs::path& dir,
                       const std::string& base_model_name_or_path);

// Copies DIR/adapter_model.safetensors into the adapters of `model` (built with the adapter
// that DIR's config describes). Every adapter parameter must be stored with its shape, and every
// stored tensor must belong to one; otherwise an InputError naming the file and the tensor, and
// the model is left unchanged.
void load_peft_adapter(torch::nn::Module& model, const fs::path& dir);

}  // namespace selm
